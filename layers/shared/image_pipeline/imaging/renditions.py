"""render(): one decode, as small as the largest spec allows, then every spec from it."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache

from PIL import Image

from image_pipeline.imaging.crop import energy_map, region
from image_pipeline.imaging.decode import decode
from image_pipeline.imaging.encoders import encode, extension, media_type
from image_pipeline.imaging.filters import apply_filter
from image_pipeline.imaging.guard import Source, open_image
from image_pipeline.imaging.limits import ImageLimits
from image_pipeline.imaging.resample import Region, resample
from image_pipeline.imaging.specs import Rendition, RenditionSpec


@dataclass(frozen=True)
class _Plan:
    spec: RenditionSpec
    region: Region
    size: tuple[int, int]  # output pixels
    scale: float  # output size / full-resolution size of the region


def _plan(spec: RenditionSpec, source: Source, energy: Callable[[], Image.Image]) -> _Plan:
    full = (source.width, source.height)
    chosen = region(spec.crop, full, energy)
    region_w = (chosen[2] - chosen[0]) * source.width
    region_h = (chosen[3] - chosen[1]) * source.height
    scale = min(1.0, spec.max_side / max(region_w, region_h))  # never upscale
    size = (max(1, round(region_w * scale)), max(1, round(region_h * scale)))
    return _Plan(spec, chosen, size, scale)


def render(data: bytes, specs: Sequence[RenditionSpec], limits: ImageLimits = ImageLimits()) -> list[Rendition]:  # noqa: B008
    """Every spec of ``specs`` made from one decode of ``data``; raises ImageRejected for bad input.

    The decode stops at the smallest size that still covers the most demanding spec (JPEG DCT
    scaling, libvips for PNG), orientation and colour are fixed on that small image, and specs of
    the same size and region share one resample.
    """
    image, source = open_image(data, limits)
    # A content-aware crop needs the pixels to place its window; the window's size, and so
    # the decode scale, does not depend on where it goes: plan with a centred stand-in first.
    sizing = [_plan(spec, source, _no_energy) for spec in specs]
    scale = max((plan.scale for plan in sizing), default=1.0)
    base = decode(data, image, source, scale)
    energy = cache(lambda: energy_map(base))
    plans = [_plan(spec, source, energy) for spec in specs]
    resized: dict[tuple[Region, tuple[int, int]], Image.Image] = {}
    renditions = []
    for plan in plans:
        key = (plan.region, plan.size)
        if key not in resized:
            resized[key] = resample(base, plan.region, plan.size)
        pixels = resized[key]
        if plan.spec.filter is not None:
            pixels = apply_filter(pixels, plan.spec.filter)
        renditions.append(_rendition(plan, pixels))
    return renditions


def _no_energy() -> Image.Image:
    return Image.new("L", (1, 1))


def _rendition(plan: _Plan, pixels: Image.Image) -> Rendition:
    data = encode(pixels, plan.spec.format)
    return Rendition(
        name=plan.spec.name,
        format=plan.spec.format,
        media_type=media_type(plan.spec.format),
        extension=extension(plan.spec.format),
        width=pixels.width,
        height=pixels.height,
        data=data,
    )

"""render(): one decode, as small as the largest spec allows, then every spec from it.

Outputs that would be byte-identical (a small source's w2048 rendition is its w1024 one) are
encoded once: the later rendition carries the same bytes and names the first in ``same_as``.

The encodes are nearly all of the work, and they run one after another. Measured on 2 cores,
the nine encodes of a 12 MP upload: 560 ms wall in a row, 495 ms on two threads (Pillow's WebP
encoder holds the GIL; its AVIF encoder already runs libaom on every core, 775 ms of CPU). Two
threads could not reach half: the wall-time floor is the CPU time over two cores (0.69x), and
RenditionWorker's 2,048 MB buy 1.16 vCPU, so a pool would add threads and buy nothing there.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import cache

from PIL import Image

from image_pipeline.imaging.crop import energy_map, region
from image_pipeline.imaging.decode import decode_stored
from image_pipeline.imaging.encoders import encode, extension, media_type
from image_pipeline.imaging.filters import apply_filter
from image_pipeline.imaging.guard import Source, open_image
from image_pipeline.imaging.limits import ImageLimits
from image_pipeline.imaging.orientation import upright
from image_pipeline.imaging.resample import LARGE_OUTPUT_PIXELS, Region, Resampler
from image_pipeline.imaging.specs import Rendition, RenditionSpec

# How much larger than the largest output a JPEG's DCT-scaled decode must be (make bench, SSIM
# against the exact picture): decoding 12 MP straight to 1060 px for a 1024 px output costs 0.003
# SSIM; 1.4x keeps large outputs within 0.001 of Pillow's thumbnail() (which drafts at 2x) at
# half its CPU. Thumbnails need more: 2 MP -> 256 px from a 1.69x decode loses 0.003, 12 MP
# (4000 px) -> 256 px from its 1/8-scale 1.95x decode 0.0009 (and 1.75x keeps that 1/8 scale).
DRAFT_MARGIN_LARGE = 1.4
DRAFT_MARGIN_SMALL = 1.75


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


def render(
    data: bytes,
    specs: Sequence[RenditionSpec],
    limits: ImageLimits = ImageLimits(),  # noqa: B008
) -> list[Rendition]:
    """Every spec of ``specs`` made from one decode of ``data``; raises ImageRejected for bad input.

    The decode stops at the smallest size that still covers the most demanding spec (JPEG DCT
    scaling, libvips for PNG), colour is fixed on that small image and orientation on each
    output, specs of the same size and region share one resample, and identical outputs one
    encode.
    """
    image, source = open_image(data, limits)
    # A content-aware crop needs the pixels to place its window; the window's size, and so
    # the decode scale, does not depend on where it goes: plan with a centred stand-in first.
    sizing = [_plan(spec, source, _no_energy) for spec in specs]
    scale = max((plan.scale for plan in sizing), default=1.0)
    largest = max((plan.size[0] * plan.size[1] for plan in sizing), default=0)
    margin = DRAFT_MARGIN_LARGE if largest >= LARGE_OUTPUT_PIXELS else DRAFT_MARGIN_SMALL
    # The pixels stay as stored: each output is turned upright at its own size.
    base, orientation = decode_stored(data, image, source, scale, margin=margin)
    energy = cache(lambda: upright(energy_map(base), orientation))  # edge energy has no direction
    resample = Resampler(base, orientation)
    plans = [_plan(spec, source, energy) for spec in specs]
    resized: dict[tuple[Region, tuple[int, int]], Image.Image] = {}
    first: dict[tuple[Region, tuple[int, int], str | None, str], _Plan] = {}
    pixels_of: dict[str, Image.Image] = {}
    for plan in plans:
        key = (plan.region, plan.size)
        output = (*key, plan.spec.filter, plan.spec.format)
        if output in first:
            continue
        first[output] = plan
        if key not in resized:
            resized[key] = resample(plan.region, plan.size)
        pixels = resized[key]
        pixels_of[plan.spec.name] = apply_filter(pixels, plan.spec.filter) if plan.spec.filter else pixels
    unique = list(first.values())
    made = {plan.spec.name: _rendition(plan, pixels_of[plan.spec.name]) for plan in unique}
    renditions = []
    for plan in plans:
        original = first[(plan.region, plan.size, plan.spec.filter, plan.spec.format)].spec.name
        if original == plan.spec.name:
            renditions.append(made[original])
        else:
            renditions.append(replace(made[original], name=plan.spec.name, same_as=original))
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

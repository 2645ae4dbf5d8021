"""The pixel work of an edit's steps: crop, filters, compress (resize + encode).

Each step opens its input through the guard (allow-list and limits first) and works at the size
the edit's output needs: the first step decodes the upload no larger than that (a 24 MP JPEG
edited to 800 px is decoded by DCT scaling at 1/4), so later steps read a small, lossless
intermediate. Filters scale their radius with the image, so working small gives the same look.
"""

import io
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Final

from PIL import Image

from image_pipeline.imaging.crop import energy_map, region
from image_pipeline.imaging.decode import decode
from image_pipeline.imaging.encoders import encode, extension, media_type
from image_pipeline.imaging.filters import apply_filter
from image_pipeline.imaging.guard import open_image
from image_pipeline.imaging.limits import ImageLimits
from image_pipeline.imaging.resample import resample
from image_pipeline.imaging.specs import CropSpec, OutputFormat, Rendition

# Intermediates are PNG at zlib level 1: lossless, and several times faster to write than level 6
# for a few percent more bytes that live only until the next step reads them.
_INTERMEDIATE_PNG_LEVEL: Final = 1


@dataclass(frozen=True)
class Fit:
    """The box an edit's output fits in: ``width`` and/or ``height``, and never more than
    ``max_side`` on its long side. Never upscales."""

    max_side: int
    width: int | None = None
    height: int | None = None

    def size(self, width: float, height: float) -> tuple[int, int]:
        scales = [1.0, self.max_side / max(width, height)]
        if self.width is not None:
            scales.append(self.width / width)
        if self.height is not None:
            scales.append(self.height / height)
        scale = min(scales)
        return (max(1, round(width * scale)), max(1, round(height * scale)))


def _centred() -> Image.Image:
    return Image.new("L", (1, 1))  # a window's size never depends on where it goes


def working_image(data: bytes, limits: ImageLimits, fit: Fit, crop: CropSpec | None = None) -> Image.Image:
    """``data`` opened under ``limits``, upright sRGB, cropped, at the size ``fit`` gives it.

    Raises ImageRejected for anything the pipeline refuses to decode."""
    image, source = open_image(data, limits)
    full = (source.width, source.height)
    left, top, right, bottom = region(crop, full, _centred)
    region_size = ((right - left) * source.width, (bottom - top) * source.height)
    size = fit.size(*region_size)
    base = decode(data, image, source, max(size[0] / region_size[0], size[1] / region_size[1]))
    chosen = region(crop, full, cache(lambda: energy_map(base)))
    return resample(base, chosen, size)


def upright_size(data: bytes, limits: ImageLimits) -> tuple[int, int]:
    """The size of ``data`` as it is shown (EXIF orientation applied), from its header alone.

    Raises ImageRejected for anything the pipeline refuses to decode."""
    _, source = open_image(data, limits)
    return (source.width, source.height)


def _intermediate(name: str, pixels: Image.Image) -> Rendition:
    pixels.info = {}
    buffer = io.BytesIO()
    pixels.save(buffer, "PNG", compress_level=_INTERMEDIATE_PNG_LEVEL)
    return Rendition(name, "PNG", "image/png", "png", pixels.width, pixels.height, buffer.getvalue())


def crop_image(data: bytes, limits: ImageLimits, crop: CropSpec, fit: Fit) -> Rendition:
    """The crop, already at the output's size, as a lossless intermediate."""
    return _intermediate("crop", working_image(data, limits, fit, crop))


def filter_image(data: bytes, limits: ImageLimits, filters: Sequence[str], fit: Fit) -> Rendition:
    """Each named filter in turn, as a lossless intermediate."""
    pixels = working_image(data, limits, fit)
    for name in filters:
        pixels = apply_filter(pixels, name)
    return _intermediate("filter", pixels)


def compress_image(data: bytes, limits: ImageLimits, fit: Fit, output_format: OutputFormat) -> Rendition:
    """The final output: resized to ``fit`` and encoded (metadata-free) as ``output_format``."""
    pixels = working_image(data, limits, fit)
    return Rendition(
        name="edit",
        format=output_format,
        media_type=media_type(output_format),
        extension=extension(output_format),
        width=pixels.width,
        height=pixels.height,
        data=encode(pixels, output_format),
    )

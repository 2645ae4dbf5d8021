"""Pictures for recognizers: an upright sRGB image for a model, or a JPEG for a service.

Both decode the upload through the guard, under the pipeline's limits, as small as the recognizer
needs (a JPEG's DCT scaling does most of the work), turned upright so that every box a
recognizer reports is a fraction of the picture as people see it, transparency over white.
"""

import math
from dataclasses import dataclass

from PIL import Image

from image_pipeline.imaging.decode import REDUCING_GAP, decode
from image_pipeline.imaging.encoders import encode, flatten
from image_pipeline.imaging.guard import Source, open_image
from image_pipeline.imaging.limits import ImageLimits

# A DCT-scaled JPEG decode is a coarse filter: decode at twice the size and resample from there.
_MARGIN = 2.0
# Each retry of a rendition over the byte budget shrinks it by this factor (area ~ 0.56x).
_SHRINK = 0.75


@dataclass(frozen=True)
class Rendition:
    data: bytes
    width: int
    height: int


def probe(data: bytes, limits: ImageLimits) -> Source:
    """What the header says (format, upright size, frames, orientation), without decoding pixels.
    Raises ImageRejected as every job does for bytes the pipeline refuses."""
    return open_image(data, limits)[1]


def upright_rgb(data: bytes, limits: ImageLimits, min_side: int) -> Image.Image:
    """The first frame, upright, 8-bit sRGB ``RGB`` over white, with each side at least
    ``min_side`` px (or its full size when smaller): what a model resamples to its input size."""
    image, source = open_image(data, limits)
    scale = min(1.0, max(min_side / source.width, min_side / source.height))
    return flatten(decode(data, image, source, scale, margin=_MARGIN)).convert("RGB")


def fitted_size(width: int, height: int, *, max_side: int, min_side: int) -> tuple[int, int] | None:
    """``width`` x ``height`` scaled so the long side is at most ``max_side`` and the short side at
    least ``min_side`` (upscaled if need be), or None when no scale satisfies both (too thin)."""
    scale = min(1.0, max_side / max(width, height))
    if min(width, height) * scale < min_side:
        scale = min_side / min(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    if max(size) > max_side or min(size) < min_side:
        return None
    return size


def jpeg_rendition(
    data: bytes, limits: ImageLimits, size: tuple[int, int], *, max_bytes: int, min_side: int
) -> Rendition | None:
    """The upload as an upright JPEG of ``size`` (as :func:`fitted_size` chose it), shrunk until
    it is at most ``max_bytes``; None when it cannot be, before a side drops below ``min_side``."""
    image, source = open_image(data, limits)
    scale = max(size[0] / source.width, size[1] / source.height)
    pixels = flatten(decode(data, image, source, min(1.0, scale), margin=_MARGIN))
    width, height = size
    while min(width, height) >= min_side:
        resized = pixels.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)
        encoded = encode(resized, "JPEG")
        if len(encoded) <= max_bytes:
            return Rendition(encoded, width, height)
        width, height = math.floor(width * _SHRINK), math.floor(height * _SHRINK)
    return None

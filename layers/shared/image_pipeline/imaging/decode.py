"""From checked bytes to the working image: decoded as small as the caller allows, upright, sRGB."""

import math

from PIL import Image

from image_pipeline.imaging import vips
from image_pipeline.imaging.colour import to_srgb
from image_pipeline.imaging.guard import Source, load
from image_pipeline.imaging.orientation import stored_size, upright

# Box-reduce by whole factors only down to twice the target, then resample properly: Pillow's
# reducing_gap=2.0, which its docs call indistinguishable from a full resample in most cases.
REDUCING_GAP = 2.0
_REDUCIBLE = frozenset({"RGB", "RGBA", "L", "LA", "CMYK"})


def decode(data: bytes, image: Image.Image, source: Source, scale: float, *, margin: float = 1.0) -> Image.Image:
    """The first frame of ``image`` as upright 8-bit sRGB ``RGB``/``RGBA``, at least ``scale`` times
    its full size (``scale`` <= 1), and no larger than needed where the format allows.

    ``margin``: how much larger than that a JPEG's DCT-scaled decode must be. A DCT-scaled
    decode is a coarse filter: 2.0 (what Pillow's ``thumbnail()`` asks of ``draft``) leaves the
    final resample enough pixels to match a full decode's quality; analysis needs only 1.0.
    """
    return upright(*decode_stored(data, image, source, scale, margin=margin))


def decode_stored(
    data: bytes, image: Image.Image, source: Source, scale: float, *, margin: float = 1.0
) -> tuple[Image.Image, int]:
    """As ``decode``, but the pixels as stored, with the EXIF orientation still to apply to them (1:
    none left). Turning a 12 MP image upright takes 50 ms; turning each output takes next to nothing."""
    scale = min(1.0, scale)
    long_side = max(1, math.ceil(scale * max(source.width, source.height)))
    if source.format == "PNG" and scale < 1 and source.frames == 1:
        fast = vips.shrink_png(data, long_side, to_srgb=bool(image.info.get("icc_profile")))
        if fast is not None:
            return to_srgb(fast), 1  # libvips turned it upright
    target = (max(1, math.ceil(source.width * scale)), max(1, math.ceil(source.height * scale)))
    stored_target = stored_size(target, source.orientation)
    drafted = (min(source.width, math.ceil(target[0] * margin)), min(source.height, math.ceil(target[1] * margin)))
    loaded = load(image, source.size_bytes, stored_size(drafted, source.orientation))
    if loaded.mode not in _REDUCIBLE:
        loaded = to_srgb(loaded)  # averaging palette indices or 16-bit codes would be nonsense
    factor = int(min(loaded.width / stored_target[0], loaded.height / stored_target[1]) / REDUCING_GAP)
    working = loaded.reduce(factor) if factor >= 2 else loaded  # reduce() keeps info: the ICC profile
    return to_srgb(working), source.orientation

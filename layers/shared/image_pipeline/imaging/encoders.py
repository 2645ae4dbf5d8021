"""Every output is encoded here, from pixels only: no EXIF, GPS, XMP, comment or profile survives.

Settings were chosen by measurement on the 24 MP bench photo resized to 1024 / 2048 px
(``python -m tests.bench.encoders``: encode time, bytes, SSIM against the resized pixels):

- JPEG q82, 4:2:0. Above ~1 MP progressive with optimised Huffman tables (2048 px: 4.6 % fewer
  bytes, and a browser paints early). Below, baseline with the standard tables: optimising them
  saves ~1 % for 2.5x the encode time (1024 px: 2.3 ms -> 6.3 ms).
- WebP q80, method 4: method 6 takes 2.1x as long for 4 % fewer bytes (and no better SSIM);
  method 2 is 5 % bigger with a lower SSIM.
- AVIF q60, speed 8: speed 6 is 10 % smaller but 2.2-2.7x slower (700 ms at 2048 px); speed 10
  is 3x faster for 3-6 % more bytes.
- PNG: lossless, zlib level 6 (the default balance); only for outputs that must stay lossless.
"""

import io
from typing import Any, Final

from PIL import Image

from image_pipeline.imaging.formats import EXTENSIONS, media_type

JPEG_QUALITY: Final = 82
WEBP_QUALITY: Final = 80
AVIF_QUALITY: Final = 60
_PROGRESSIVE_FROM_PIXELS: Final = 1_000_000
_WHITE: Final = (255, 255, 255)


def flatten(image: Image.Image) -> Image.Image:
    """An opaque RGB image: transparent areas over white (what a page behind a JPEG usually is)."""
    if image.mode != "RGBA":
        return image if image.mode in {"RGB", "L"} else image.convert("RGB")
    background = Image.new("RGB", image.size, _WHITE)
    background.paste(image, mask=image.getchannel("A"))
    return background


def encoder_options(format_name: str, image: Image.Image) -> dict[str, Any]:
    """The settings every output of ``format_name`` is saved with (they depend on its size)."""
    if format_name == "JPEG":
        large = image.width * image.height > _PROGRESSIVE_FROM_PIXELS
        return {"quality": JPEG_QUALITY, "subsampling": "4:2:0", "optimize": large, "progressive": large}
    if format_name == "WEBP":
        return {"quality": WEBP_QUALITY, "method": 4}
    if format_name == "AVIF":
        return {"quality": AVIF_QUALITY, "speed": 8, "subsampling": "4:2:0"}
    if format_name == "PNG":
        return {"compress_level": 6}
    raise ValueError(f"cannot encode {format_name}")


def encode(image: Image.Image, format_name: str) -> bytes:
    pixels = flatten(image) if format_name == "JPEG" else image
    if pixels.mode not in {"RGB", "RGBA", "L"}:
        pixels = pixels.convert("RGBA" if "A" in pixels.mode else "RGB")
    if pixels.mode == "L" and format_name in {"WEBP", "AVIF"}:
        pixels = pixels.convert("RGB")
    # A fresh info dict: Pillow's PNG and WebP writers copy some of it (profile, text) by default.
    pixels.info = {}
    buffer = io.BytesIO()
    pixels.save(buffer, format_name, **encoder_options(format_name, pixels))
    return buffer.getvalue()


def extension(format_name: str) -> str:
    return EXTENSIONS[format_name]


__all__ = ["encode", "encoder_options", "extension", "flatten", "media_type"]

"""Every output is encoded here, from pixels only: no EXIF, GPS, XMP, comment or profile survives.

Settings are re-checked on a measured frontier (``python -m tests.bench.encoders``: CPU time,
bytes and SSIM against the resized pixels, Pillow's encoders and libvips' mozjpeg, libwebp and
libheif/aom, on the 24 MP and 12 MP bench photos at 256, 512, 1024 and 2048 px). The rule: a
setting changes only for one that is no bigger and no worse (SSIM) on every photo and size.
Nothing passed it, so these stay:

- JPEG q82, 4:2:0. Above ~1 MP progressive with optimised Huffman tables (2048 px: 4 % fewer
  bytes than baseline optimised, which takes half the CPU). Below, baseline with the standard
  tables (optimising saves ~1 % for 2.5x the encode time). libvips' mozjpeg at q82 makes the
  same bytes as Pillow's optimised baseline at 1.6-4x the CPU; with trellis it is smaller but
  loses 0.006+ SSIM.
- WebP q80, method 4: method 3 is 0.5 % smaller and cheaper on one photo but loses SSIM;
  libvips' libwebp makes the same bytes at 1.1-1.2x the CPU.
- AVIF q60, speed 8. Speed 9 is the cheapest improvement on the table: 2.5-3.5x less CPU (AVIF
  is the largest share of an upload's CPU) with SSIM within 0.0006, but 3-6 % bigger on the
  24 MP photo, so the rule keeps speed 8. libvips' aom at effort 1 is smaller only at 0.009+
  lower SSIM.
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

"""The libvips fast path for PNG, where Pillow has no reduce-on-load and a slower unfilter.

libvips decodes PNG (libpng with SIMD filters) and shrinks in one streaming pass, so the full
image is never held in memory. The pipeline measured it 1.7-2x faster than Pillow for a 12 MP
PNG -> 1024 px (``make bench``); for JPEG Pillow's DCT scaling is as fast, so JPEG stays on Pillow.
Only pixels cross over: the result is a plain Pillow image, and every output is encoded by Pillow.

pyvips is imported on first use (it costs cold-start time a JPEG never needs) and is optional:
without it, or when libvips refuses the bytes, the caller falls back to Pillow, whose decoder
then names the precise reason (truncated, corrupt).
"""

import importlib
from functools import cache
from typing import Any

from PIL import Image

_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


@cache
def _pyvips() -> Any:
    try:
        module = importlib.import_module("pyvips")
    except (ImportError, OSError):
        return None
    module.cache_set_max(0)  # no operation cache: a Lambda must not hold on to old images
    return module


def available() -> bool:
    return _pyvips() is not None


def shrink_png(data: bytes, long_side: int, *, to_srgb: bool) -> Image.Image | None:
    """``data`` (a PNG already checked by the guard) decoded straight to ``long_side`` px on its
    longest side, upright (EXIF applied), 8-bit; or None when libvips is missing or fails."""
    pyvips = _pyvips()
    if pyvips is None:
        return None
    try:
        image = pyvips.Image.pngload_buffer(data, access="sequential", fail_on="truncated")
        options: dict[str, Any] = {"height": long_side, "size": "down"}
        if to_srgb:
            options["export_profile"] = "srgb"
        image = image.thumbnail_image(long_side, **options)
        if image.format != "uchar":
            image = image.colourspace("b-w" if image.bands <= 2 else "srgb")
        mode = _MODES.get(image.bands)
        if mode is None:
            return None
        pixels = image.write_to_memory()
    except pyvips.Error:
        return None
    return Image.frombytes(mode, (image.width, image.height), pixels)


def from_pillow(image: Image.Image) -> Any | None:
    """The pixels of an RGB or L ``image`` as a libvips image (one copy); None when libvips is
    missing or the mode is not plain. Keep it for every resample of ``image``: the copy costs
    as much as a Lanczos resample to 1024 px (12 MP: ~35 ms)."""
    pyvips = _pyvips()
    bands = {"RGB": 3, "L": 1}.get(image.mode)
    if pyvips is None or bands is None:
        return None
    try:
        return pyvips.Image.new_from_memory(image.tobytes(), image.width, image.height, bands, "uchar")
    except pyvips.Error:
        return None


def resize(pixels: Any, mode: str, box: tuple[int, int, int, int], size: tuple[int, int]) -> Image.Image | None:
    """``box`` of ``pixels`` (from ``from_pillow``) resampled to ``size`` as a Pillow image of
    ``mode`` (Lanczos-3, SIMD and threaded: ~4x Pillow's resize at web sizes); None when libvips
    fails or the result would not be exactly ``size``."""
    pyvips = _pyvips()
    try:
        left, top, right, bottom = box
        if box != (0, 0, pixels.width, pixels.height):
            pixels = pixels.crop(left, top, right - left, bottom - top)
        resized = pixels.resize(size[0] / pixels.width, vscale=size[1] / pixels.height, kernel="lanczos3")
        if (resized.width, resized.height) != size:
            return None
        return Image.frombytes(mode, size, resized.write_to_memory())
    except pyvips.Error:
        return None

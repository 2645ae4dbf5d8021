"""The ways to make an output that the benchmark times, in a module light enough for the memory children.

Every path makes the same output: the same format and encoder settings (``encoders.encode``, or
libvips' own encoder told the same quality, subsampling and progressive choice), upright
(EXIF orientation applied), the same size. Only how the pixels are obtained differs.

naive    = the AWS S3-thumbnail tutorial: decode everything, LANCZOS straight to the target.
pillow   = what a competent Pillow user writes: ``Image.thumbnail()`` (draft + reducing_gap=2.0),
           then ``exif_transpose`` on the small image.
vips     = pyvips' ``thumbnail_buffer`` (shrink-on-load, auto-rotate) and libvips' own encoder.
ours     = ``render`` with the pipeline's own spec.
floor    = a JPEG decoded at 1/8 scale and nothing else: no resize can start before that.
exact    = the reference for SSIM: full decode, upright, one LANCZOS resample, no encode.
"""

import importlib
import io
import math
from typing import Any

from PIL import Image, ImageOps

from image_pipeline.imaging import WEB_RENDITIONS, RenditionSpec, render
from image_pipeline.imaging.encoders import encode, encoder_options

W1024 = next(spec for spec in WEB_RENDITIONS if spec.name == "w1024-jpeg")


def _fit(size: tuple[int, int], side: int) -> tuple[int, int]:
    ratio = min(1.0, side / max(size))
    return (max(1, round(size[0] * ratio)), max(1, round(size[1] * ratio)))


def naive(data: bytes, spec: RenditionSpec) -> bytes:
    """The tutorial's way (decode everything, LANCZOS straight to the target), upright."""
    with Image.open(io.BytesIO(data)) as image:
        upright = ImageOps.exif_transpose(image)
        resized = upright.resize(_fit(upright.size, spec.max_side), Image.Resampling.LANCZOS)
    return encode(resized, spec.format)


def pillow(data: bytes, spec: RenditionSpec) -> bytes:
    """``Image.thumbnail()``: draft (DCT scaling) and reducing_gap=2.0, upright afterwards."""
    with Image.open(io.BytesIO(data)) as image:
        image.thumbnail((spec.max_side, spec.max_side), Image.Resampling.LANCZOS, reducing_gap=2.0)
        upright = ImageOps.exif_transpose(image)
    return encode(upright, spec.format)


def vips_options(spec: RenditionSpec, size: tuple[int, int]) -> dict[str, Any]:
    """Our encoder settings in libvips' words (``strip``: no metadata, as ours)."""
    probe = Image.new("RGB", size)
    options = encoder_options(spec.format, probe)
    if spec.format == "JPEG":
        return {
            "Q": options["quality"],
            "subsample_mode": "on",
            "optimize_coding": options["optimize"],
            "interlace": options["progressive"],
            "keep": "none",
        }
    if spec.format == "WEBP":
        return {"Q": options["quality"], "effort": options["method"], "keep": "none"}
    if spec.format == "AVIF":
        return {"Q": options["quality"], "effort": 9 - options["speed"], "compression": "av1", "keep": "none"}
    raise ValueError(f"no libvips settings for {spec.format}")


_VIPS_SAVERS = {"JPEG": ".jpg", "WEBP": ".webp", "AVIF": ".avif"}


def vips(data: bytes, spec: RenditionSpec) -> bytes:
    """pyvips' ``thumbnail_buffer``: shrink-on-load and auto-rotate, then libvips' encoder."""
    pyvips: Any = importlib.import_module("pyvips")  # optional: the bench leaves this path out without it
    image = pyvips.Image.thumbnail_buffer(data, spec.max_side, height=spec.max_side, size="down")
    if image.hasalpha() and spec.format == "JPEG":
        image = image.flatten(background=[255, 255, 255])
    saved: bytes = image.write_to_buffer(_VIPS_SAVERS[spec.format], **vips_options(spec, (image.width, image.height)))
    return saved


def ours(data: bytes, spec: RenditionSpec) -> bytes:
    return render(data, [spec])[0].data


def floor(data: bytes) -> None:
    """A JPEG's 1/8-scale DCT decode: entropy decoding of every byte, the least any path does."""
    with Image.open(io.BytesIO(data)) as image:
        image.draft(None, (math.ceil(image.width / 8), math.ceil(image.height / 8)))
        image.load()


def exact(data: bytes) -> Image.Image:
    """The full-resolution upright RGB picture: what every output is compared against."""
    with Image.open(io.BytesIO(data)) as image:
        upright = ImageOps.exif_transpose(image)
        if upright.mode == "RGBA":
            background = Image.new("RGB", upright.size, (255, 255, 255))
            background.paste(upright, mask=upright.getchannel("A"))
            return background
        return upright.convert("RGB")

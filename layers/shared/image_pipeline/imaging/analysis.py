"""analyze(): the "recognize" facts of an image, cheap enough for every upload.

Everything visual is measured on one proxy of at most ANALYSIS_SIDE px (decoded that small where
the format allows), so values compare across image sizes and the cost does not grow with them.
"""

import io
from typing import Any, Final

from PIL import Image, ImageChops, ImageCms, ImageFilter, ImageStat

from image_pipeline.imaging.decode import REDUCING_GAP, decode
from image_pipeline.imaging.encoders import flatten
from image_pipeline.imaging.exif import exif_summary
from image_pipeline.imaging.formats import media_type
from image_pipeline.imaging.guard import open_image
from image_pipeline.imaging.limits import ImageLimits

ANALYSIS_SIDE: Final = 512
_COLOUR_SIDE: Final = 64
_COLOURS: Final = 5
# Variance of the Laplacian maps to 0..1 as v / (v + K): K is the variance of a typical in-focus
# photo at ANALYSIS_SIDE px, so 0.5 reads "as sharp as usual"; blurred images fall towards 0.
_SHARPNESS_K: Final = 300.0
_LAPLACIAN = ImageFilter.Kernel((3, 3), (0, 1, 0, 1, -4, 1, 0, 1, 0), scale=1, offset=128)
_GRAY_SPREAD: Final = 8
_ALPHA_MODES: Final = frozenset({"RGBA", "LA", "PA", "La", "RGBa"})


def analyze(data: bytes, limits: ImageLimits = ImageLimits()) -> dict[str, Any]:  # noqa: B008
    """JSON-ready facts about ``data``; raises ImageRejected for bad input (it decodes it all)."""
    image, source = open_image(data, limits)
    exif = exif_summary(image)
    has_alpha = image.mode in _ALPHA_MODES or "transparency" in image.info
    interlaced = bool(image.info.get("progressive") or image.info.get("progression") or image.info.get("interlace"))
    profile = _profile_name(image.info.get("icc_profile"))
    scale = ANALYSIS_SIDE / max(source.width, source.height)
    pixels = decode(data, image, source, scale)
    proxy = _proxy(pixels)
    opaque = flatten(proxy).convert("RGB")
    gray = opaque.convert("L")
    luma = ImageStat.Stat(gray)
    return {
        "format": source.format,
        "mediaType": media_type(source.format),
        "width": source.width,
        "height": source.height,
        "megapixels": round(source.width * source.height / 1e6, 2),
        "aspectRatio": round(source.width / source.height, 4),
        "orientation": source.orientation,
        "mode": source.mode,
        "hasAlpha": has_alpha,
        "animated": source.frames > 1,
        "frameCount": source.frames,
        "bytes": source.size_bytes,
        "bitsPerPixel": round(8 * source.size_bytes / (source.width * source.height * source.frames), 3),
        "interlaced": interlaced,
        "colourProfile": profile,
        "exif": exif,
        "dominantColours": dominant_colours(opaque),
        "perceptualHash": dhash(gray),
        "perceptualHashAlgorithm": "dhash-64",
        "sharpness": sharpness(gray),
        "brightness": round(luma.mean[0] / 255, 3),
        "contrast": round(luma.stddev[0] / 127.5, 3),
        "isGrayscale": _is_grayscale(opaque),
    }


def _proxy(pixels: Image.Image) -> Image.Image:
    if max(pixels.size) <= ANALYSIS_SIDE:
        return pixels
    ratio = ANALYSIS_SIDE / max(pixels.size)
    size = (max(1, round(pixels.width * ratio)), max(1, round(pixels.height * ratio)))
    return pixels.resize(size, Image.Resampling.LANCZOS, reducing_gap=REDUCING_GAP)


def dominant_colours(image: Image.Image, count: int = _COLOURS) -> list[dict[str, Any]]:
    """The main colours of an RGB image and the share of pixels near each, largest first."""
    small = image.copy()
    small.thumbnail((_COLOUR_SIDE, _COLOUR_SIDE), Image.Resampling.BOX)
    quantized = small.quantize(colors=count, method=Image.Quantize.MEDIANCUT)
    palette = quantized.getpalette() or []
    counts = sorted(quantized.getcolors() or [], reverse=True)
    total = sum(n for n, _ in counts)
    colours = []
    for n, index in counts:
        if not isinstance(index, int):  # a palette image always answers with indices
            continue
        red, green, blue = palette[3 * index : 3 * index + 3]
        colours.append({"hex": f"#{red:02x}{green:02x}{blue:02x}", "share": round(n / total, 3)})
    return colours


def dhash(gray: Image.Image) -> str:
    """64-bit difference hash: is each of 8x8 cells brighter than its right neighbour? Survives
    re-encoding and resizing; compare two by the Hamming distance of their bits."""
    cells = gray.resize((9, 8), Image.Resampling.BOX).get_flattened_data()
    bits = 0
    for row in range(8):
        for col in range(8):
            left, right = cells[row * 9 + col], cells[row * 9 + col + 1]
            bits = (bits << 1) | (1 if left > right else 0)  # type: ignore[operator]
    return f"{bits:016x}"


def sharpness(gray: Image.Image) -> float:
    """0..1 from the variance of the Laplacian (edge strength) of the grayscale proxy."""
    variance = ImageStat.Stat(gray.filter(_LAPLACIAN)).var[0]
    return round(variance / (variance + _SHARPNESS_K), 3)


def _is_grayscale(image: Image.Image) -> bool:
    red, green, blue = image.split()
    spread = max(ImageChops.difference(red, green).getextrema()[1], ImageChops.difference(green, blue).getextrema()[1])
    return bool(spread <= _GRAY_SPREAD)  # type: ignore[operator]


def _profile_name(icc: object) -> str | None:
    if not isinstance(icc, bytes) or not icc:
        return None
    try:
        return ImageCms.getProfileDescription(ImageCms.ImageCmsProfile(io.BytesIO(icc))).strip() or None
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return None

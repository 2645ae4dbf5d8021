"""Named looks for previews and edits. Each keeps an alpha channel as it was."""

from collections.abc import Callable
from typing import Final

from PIL import Image, ImageEnhance, ImageFilter, ImageOps

# The classic sepia tone matrix (Microsoft's), as Pillow's RGB -> RGB convert matrix.
_SEPIA: Final = (0.393, 0.769, 0.189, 0, 0.349, 0.686, 0.168, 0, 0.272, 0.534, 0.131, 0)


def _scaled_radius(image: Image.Image, fraction: float) -> float:
    # The same look at every size: the radius follows the image, not a pixel count.
    return max(1.0, max(image.size) * fraction)


def _grayscale(image: Image.Image) -> Image.Image:
    return ImageOps.grayscale(image).convert("RGB")


def _sepia(image: Image.Image) -> Image.Image:
    return image.convert("RGB", _SEPIA)


def _blur(image: Image.Image) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(_scaled_radius(image, 0.006)))


def _sharpen(image: Image.Image) -> Image.Image:
    return image.filter(ImageFilter.UnsharpMask(radius=_scaled_radius(image, 0.002), percent=120, threshold=2))


def _autocontrast(image: Image.Image) -> Image.Image:
    return ImageOps.autocontrast(image, cutoff=1)


def _vivid(image: Image.Image) -> Image.Image:
    return ImageEnhance.Color(image).enhance(1.4)


def _invert(image: Image.Image) -> Image.Image:
    return ImageOps.invert(image)


_FILTERS: Final[dict[str, Callable[[Image.Image], Image.Image]]] = {
    "grayscale": _grayscale,
    "sepia": _sepia,
    "blur": _blur,
    "sharpen": _sharpen,
    "autocontrast": _autocontrast,
    "vivid": _vivid,
    "invert": _invert,
}
FILTERS: Final = frozenset(_FILTERS)


def apply_filter(image: Image.Image, name: str) -> Image.Image:
    """``image`` (RGB or RGBA) with the named look; alpha passes through untouched."""
    try:
        effect = _FILTERS[name]
    except KeyError:
        raise ValueError(f"unknown filter {name!r}; choose one of {sorted(FILTERS)}") from None
    if image.mode != "RGBA":
        return effect(image.convert("RGB"))
    result = effect(image.convert("RGB"))
    result.putalpha(image.getchannel("A"))
    return result

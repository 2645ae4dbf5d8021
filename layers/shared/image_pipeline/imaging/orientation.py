"""EXIF orientation: the stored pixels turned upright, applied to the small decoded image."""

from typing import Final

from PIL import Image

_TRANSPOSE: Final[dict[int, Image.Transpose]] = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def upright(image: Image.Image, orientation: int) -> Image.Image:
    """The image as a viewer shows it: orientation 1 (or an unknown value) is returned unchanged."""
    method = _TRANSPOSE.get(orientation)
    return image if method is None else image.transpose(method)


def stored_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """An upright size expressed in the stored (pre-rotation) orientation."""
    width, height = size
    return (height, width) if orientation in {5, 6, 7, 8} else (width, height)

"""EXIF orientation: the stored pixels turned upright, applied to the small decoded image, or
(renditions) to each output: a region of the upright picture is found in the stored pixels.
"""

from collections.abc import Callable
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


# Where a point of the upright picture (x, y as fractions of its width and height) is stored.
_STORED_POINT: Final[dict[int, Callable[[float, float], tuple[float, float]]]] = {
    2: lambda x, y: (1 - x, y),
    3: lambda x, y: (1 - x, 1 - y),
    4: lambda x, y: (x, 1 - y),
    5: lambda x, y: (y, x),
    6: lambda x, y: (y, 1 - x),
    7: lambda x, y: (1 - y, 1 - x),
    8: lambda x, y: (1 - y, x),
}


def upright(image: Image.Image, orientation: int) -> Image.Image:
    """The image as a viewer shows it: orientation 1 (or an unknown value) is returned unchanged."""
    method = _TRANSPOSE.get(orientation)
    return image if method is None else image.transpose(method)


def stored_size(size: tuple[int, int], orientation: int) -> tuple[int, int]:
    """An upright size expressed in the stored (pre-rotation) orientation."""
    width, height = size
    return (height, width) if orientation in {5, 6, 7, 8} else (width, height)


def stored_region(region: tuple[float, float, float, float], orientation: int) -> tuple[float, float, float, float]:
    """A region of the upright picture (left, top, right, bottom fractions) in the stored pixels."""
    to_stored = _STORED_POINT.get(orientation)
    if to_stored is None:
        return region
    (x0, y0), (x1, y1) = to_stored(region[0], region[1]), to_stored(region[2], region[3])
    return (min(x0, x1), min(y0, y1), max(x0, x1), max(y0, y1))

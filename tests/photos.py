"""Photos for uploads that must complete. The recognition job runs a real moderation model on
every upload (open_nsfw, locally), and it scores synthetic gradients 0.4-0.8: a hair below the
deployed threshold (0.8), and above it with an unlucky patch. A real photo of a cat scores about
0.0002 at any size, so tests upload the cat, resized, marked to make each upload its own."""

import io
import random
from functools import cache
from typing import Any

from PIL import Image, ImageOps

from tests.conftest import EVENTS

CAT = EVENTS / "images" / "cat-exif-orientation-6.jpg"


@cache
def _cat() -> Image.Image:
    with Image.open(CAT) as opened:
        return ImageOps.exif_transpose(opened).convert("RGB")


def photo(size: tuple[int, int] = (640, 480), mark: int | None = None, **save: Any) -> bytes:
    """The cat as a JPEG of ``size``; ``mark`` (random if None) colours a corner, so each upload has
    its own bytes and ETag. ``save``: Pillow's JPEG options (quality, progressive, exif, ...)."""
    picture = _cat().resize(size)
    shade = random.randrange(256) if mark is None else mark % 256  # noqa: S311 - not a secret
    picture.paste((shade, 255 - shade, 128), (0, 0, max(1, size[0] // 16), max(1, size[1] // 16)))
    buffer = io.BytesIO()
    picture.save(buffer, "JPEG", **{"quality": 85, **save})
    return buffer.getvalue()

"""Opening untrusted bytes: allow-list first, limits from the header, full decode inside the guard.

Only the plugins of allowed formats ever parse the bytes (``Image.open(formats=...)``), the
declared size and frame count are checked before a pixel is decoded, and the decode itself runs
here so a truncated or corrupt file is refused rather than padded. Pillow's global settings are
never touched: the decompression-bomb warning becomes an error only inside this module's calls.
Every refusal names the stack's own limits (its parameters), never Pillow's built-in ones.
"""

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Final

from PIL import Image, ImageFile

from image_pipeline.imaging.errors import ImageRejected, Reason
from image_pipeline.imaging.exif import read_exif
from image_pipeline.imaging.formats import sniff_format
from image_pipeline.imaging.limits import PARAMETERS, ImageLimits

# Pillow's plugin ids for each format name we accept (a JPEG may open as MPO: still JPEG).
_PLUGINS: Final[dict[str, tuple[str, ...]]] = {
    "JPEG": ("JPEG",),
    "PNG": ("PNG",),
    "WEBP": ("WEBP",),
    "GIF": ("GIF",),
    "TIFF": ("TIFF",),
    "AVIF": ("AVIF",),
    "HEIF": ("HEIF",),
}
_ALIASES: Final[dict[str, str]] = {"MPO": "JPEG"}

# Deflate cannot beat ~1032:1, JPEG rarely 400:1: a file that declares more pixels than it could
# ever hold, beyond the caps, is a bomb rather than a big photo.
_BOMB_PIXELS_PER_BYTE: Final = 1_000

# Orientations 5-8 store the image on its side.
_SIDEWAYS: Final = frozenset({5, 6, 7, 8})


@dataclass(frozen=True)
class Source:
    """What the header says about the image, in display (upright) orientation."""

    format: str
    width: int
    height: int
    mode: str
    frames: int
    orientation: int
    size_bytes: int

    @property
    def stored_size(self) -> tuple[int, int]:
        return (self.height, self.width) if self.orientation in _SIDEWAYS else (self.width, self.height)


def _register_heif() -> None:
    # Imported only when a HEIF arrives: it costs cold-start time nobody else should pay.
    from pillow_heif import register_heif_opener  # noqa: PLC0415

    register_heif_opener()


@contextmanager
def bomb_guard() -> Iterator[None]:
    """Turn Pillow's decompression-bomb warning into a rejection, and any decoder failure on
    hostile bytes into ``truncated`` or ``corrupt``: untrusted input must never crash a caller."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    except ImageRejected:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        # Past the header checks (a frame larger than the image declared): Pillow's own limit fired
        message = "image looks like a decompression bomb: a frame is larger than the image declares"
        raise ImageRejected(Reason.DECOMPRESSION_BOMB, message) from exc
    except MemoryError as exc:
        raise ImageRejected(Reason.DECOMPRESSION_BOMB, "image needs more memory to decode than it may use") from exc
    except Exception as exc:
        if "truncated" in str(exc).lower():
            raise ImageRejected(Reason.TRUNCATED, "image data ends early: the file is truncated") from exc
        raise ImageRejected(Reason.CORRUPT, f"image data cannot be decoded ({type(exc).__name__}: {exc})") from exc


def _checked_format(data: bytes, limits: ImageLimits) -> str:
    if not data:
        raise ImageRejected(Reason.EMPTY, "the file is empty (0 bytes)")
    sniffed = sniff_format(data)
    if sniffed is None:
        raise ImageRejected(Reason.UNSUPPORTED_FORMAT, "the file is not an image in any format this pipeline knows")
    if sniffed not in limits.allowed_formats or sniffed not in _PLUGINS:
        allowed = ", ".join(sorted(limits.allowed_formats))
        raise ImageRejected(Reason.UNSUPPORTED_FORMAT, f"{sniffed} images are not accepted (allowed: {allowed})")
    return sniffed


def _check_limits(source: Source, limits: ImageLimits) -> None:
    w, h = source.width, source.height
    pixels = w * h
    most_pixels = f"at most {limits.max_pixels:,} pixels are allowed ({PARAMETERS['max_pixels']})"
    if pixels > limits.max_pixels and pixels > _BOMB_PIXELS_PER_BYTE * source.size_bytes:
        raise ImageRejected(
            Reason.DECOMPRESSION_BOMB,
            f"a {source.size_bytes:,}-byte file declares {w}x{h} px ({pixels:,} pixels), more than its bytes"
            f" could hold: a decompression bomb; {most_pixels}",
        )
    if max(w, h) > limits.max_side:
        raise ImageRejected(
            Reason.SIDE_TOO_LONG,
            f"image is {w}x{h} px; the longest side allowed is {limits.max_side:,} px ({PARAMETERS['max_side']})",
        )
    if pixels > limits.max_pixels:
        raise ImageRejected(Reason.TOO_MANY_PIXELS, f"image is {w}x{h} px ({pixels:,} pixels); {most_pixels}")
    if source.frames > limits.max_frames:
        raise ImageRejected(
            Reason.TOO_MANY_FRAMES,
            f"image has {source.frames:,} frames; at most {limits.max_frames:,} are allowed"
            f" ({PARAMETERS['max_frames']})",
        )


def _open_header(data: bytes, format_name: str) -> Image.Image:
    """The image, opened lazily (header only) by the format's plugin.

    ``Image.open`` applies Pillow's own bomb limits (a warning past ~89 MP, an error past ~179 MP)
    before the size reaches ``_check_limits``, and its message names Pillow's numbers. When they
    fire, the header is read again by the plugin alone, so the refusal names the stack's limits.
    """
    plugins = list(_PLUGINS[format_name])
    try:
        return Image.open(io.BytesIO(data), formats=plugins)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        factory, _ = Image.OPEN[plugins[0]]
        return factory(io.BytesIO(data), "")


def _orientation(image: Image.Image) -> int:
    value = read_exif(image).get(0x0112, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def open_image(data: bytes, limits: ImageLimits) -> tuple[Image.Image, Source]:
    """Open ``data`` lazily (header only) once it has passed the format and size checks.

    The image is not closed by anyone: its decoded pixels become the caller's working image,
    and the BytesIO behind it holds no file handle."""
    format_name = _checked_format(data, limits)
    if format_name == "HEIF":
        _register_heif()
    with bomb_guard():
        image = _open_header(data, format_name)
    with bomb_guard():
        # The header's size is checked before n_frames walks the frames of a GIF.
        orientation = _orientation(image)
        width, height = image.size
        if orientation in _SIDEWAYS:
            width, height = height, width
        source = Source(
            format=_ALIASES.get(str(image.format), str(image.format)),
            width=width,
            height=height,
            mode=image.mode,
            frames=1,
            orientation=orientation,
            size_bytes=len(data),
        )
        _check_limits(source, limits)
        source = replace(source, frames=int(getattr(image, "n_frames", 1)))
        _check_limits(source, limits)
    return image, source


def load(image: Image.Image, size_bytes: int, stored_target: tuple[int, int] | None = None) -> Image.Image:
    """Decode the first frame in full, through a JPEG's DCT scaling when a smaller size will do.

    ``stored_target`` is the smallest size (in stored orientation) the caller needs: the JPEG
    decoder then produces the smallest of 1/1, 1/2, 1/4 or 1/8 scale that still covers it.
    """
    with bomb_guard():
        if stored_target is not None and image.format in {"JPEG", "MPO"}:
            image.draft(None, stored_target)
        # The bytes are in memory already: hand the decoder all of them at once rather than in
        # 64 KiB reads, which makes libjpeg suspend and resume ~100 times for a 5 MB photo.
        if isinstance(image, ImageFile.ImageFile):
            image.decodermaxblock = max(image.decodermaxblock, size_bytes)
        image.load()
    return image

"""A summary of the camera metadata that is safe to publish: never a location.

Only the tags listed here are read, so GPS (and anything else) cannot leak by accident; whether
the file carried a location is reported as a flag, so a user knows it was stripped from outputs.
"""

import math
from datetime import datetime
from fractions import Fraction
from typing import Any, Final

from PIL import ExifTags, Image

_BASE: Final[dict[int, str]] = {
    ExifTags.Base.Make: "make",
    ExifTags.Base.Model: "model",
    ExifTags.Base.Software: "software",
    ExifTags.Base.Orientation: "orientation",
}
_CAMERA: Final[dict[int, str]] = {
    ExifTags.Base.LensModel: "lens",
    ExifTags.Base.ExposureTime: "exposureTime",
    ExifTags.Base.FNumber: "fNumber",
    ExifTags.Base.ISOSpeedRatings: "iso",
    ExifTags.Base.FocalLength: "focalLength",
    ExifTags.Base.FocalLengthIn35mmFilm: "focalLength35mm",
    ExifTags.Base.Flash: "flashFired",
}
_MAX_TEXT: Final = 120
_LONGEST_EXPOSURE: Final = 3600


def read_exif(image: Image.Image) -> Image.Exif:
    """The EXIF block, read without decoding pixels (Pillow's PNG getexif() decodes the whole
    image first, looking for an eXIf chunk after the pixel data); empty when broken."""
    try:
        if image.format != "PNG":
            return image.getexif()
        exif = Image.Exif()
        raw = image.info.get("exif")
        if isinstance(raw, bytes):
            exif.load(raw)
    except Exception:  # noqa: BLE001 - a broken EXIF block is no reason to refuse the pixels
        return Image.Exif()
    return exif


def exif_summary(image: Image.Image) -> dict[str, Any]:
    try:
        exif = read_exif(image)
        camera = exif.get_ifd(ExifTags.IFD.Exif)
    except Exception:  # noqa: BLE001 - a broken EXIF block is no reason to refuse the pixels
        return {}
    summary: dict[str, Any] = {}
    for tags, source in ((_BASE, exif), (_CAMERA, camera)):
        for tag, key in tags.items():
            value = _clean(key, source.get(tag))
            if value is not None:
                summary[key] = value
    taken = _taken_at(camera.get(ExifTags.Base.DateTimeOriginal) or exif.get(ExifTags.Base.DateTime))
    if taken is not None:
        summary["takenAt"] = taken
    summary["hasLocation"] = ExifTags.Base.GPSInfo in exif
    return summary


def _clean(key: str, value: object) -> Any:
    if value is None:
        return None
    if key == "flashFired":
        return bool(value & 1) if isinstance(value, int) else None
    if key == "exposureTime":
        return _exposure(value)
    if isinstance(value, tuple):  # ISO may come as a tuple of speeds
        value = value[0] if value else None
    if isinstance(value, bytes | str):
        return _text(value)
    if isinstance(value, int):
        return value
    return _number(value)


def _text(value: bytes | str) -> str | None:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else value
    text = "".join(ch for ch in text if ch.isprintable()).strip()
    return text[:_MAX_TEXT] or None


def _number(value: object) -> float | None:
    try:
        number = float(value)  # type: ignore[arg-type]  # IFDRational and friends
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return round(number, 2) if math.isfinite(number) else None  # 0/0 rationals are NaN


def _exposure(value: object) -> str | None:
    try:
        seconds = Fraction(float(value)).limit_denominator(100_000)  # type: ignore[arg-type]
    except (TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None
    if not 0 < seconds <= _LONGEST_EXPOSURE:
        return None  # zero, negative or a day-long shutter: a garbage value
    if seconds >= 1:
        return f"{float(seconds):g}s"
    return f"1/{round(1 / seconds)}s"


def _taken_at(value: object) -> str | None:
    """EXIF's 'YYYY:MM:DD HH:MM:SS' (local time, no zone) as ISO 8601 without a zone."""
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.strptime(value.strip().rstrip("\x00"), "%Y:%m:%d %H:%M:%S")  # noqa: DTZ007
    except ValueError:
        return None
    return moment.isoformat()

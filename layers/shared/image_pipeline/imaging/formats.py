"""Formats by their magic bytes, never by a file name or a declared content type."""

from typing import Final

MEDIA_TYPES: Final[dict[str, str]] = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "GIF": "image/gif",
    "TIFF": "image/tiff",
    "HEIF": "image/heif",
    "AVIF": "image/avif",
    "BMP": "image/bmp",
    "ICO": "image/vnd.microsoft.icon",
    "JPEG2000": "image/jp2",
    "JXL": "image/jxl",
    "PSD": "image/vnd.adobe.photoshop",
    "EPS": "application/postscript",
    "PDF": "application/pdf",
    "SVG": "image/svg+xml",
}
EXTENSIONS: Final[dict[str, str]] = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp", "AVIF": "avif", "GIF": "gif"}

# ISO-BMFF brands (the 'ftyp' box) of the HEIF family. AVIF is HEIF with AV1 inside.
_AVIF_BRANDS = frozenset({b"avif", b"avis"})
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"})

# (prefix, format): the first match wins, so longer prefixes of a family come first.
_PREFIXES: Final[tuple[tuple[bytes, str], ...]] = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"II+\x00", "TIFF"),  # BigTIFF
    (b"MM\x00+", "TIFF"),
    (b"BM", "BMP"),
    (b"\x00\x00\x01\x00", "ICO"),
    (b"\xff\x4f\xff\x51", "JPEG2000"),  # raw codestream (.j2k)
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG2000"),
    (b"\xff\x0a", "JXL"),
    (b"\x00\x00\x00\x0cJXL \r\n\x87\n", "JXL"),
    (b"8BPS", "PSD"),
    (b"%!PS", "EPS"),
    (b"\xc5\xd0\xd3\xc6", "EPS"),  # DOS EPS binary header
    (b"%PDF", "PDF"),
    (b"\x01\xda", "SGI"),
    (b"qoif", "QOI"),
)


def sniff_format(data: bytes) -> str | None:
    """The format the bytes really are (upper-case Pillow-style name), or None when unknown.

    Compare it with a declared content type or file extension: a mismatch is a lie.
    """
    head = data[:64]
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[4:8] == b"ftyp":
        return _iso_bmff_format(data)
    for prefix, name in _PREFIXES:
        if head.startswith(prefix):
            return name
    if head.lstrip().lower().startswith((b"<svg", b"<?xml")) and b"<svg" in data[:1024].lower():
        return "SVG"
    return None


def _iso_bmff_format(data: bytes) -> str | None:
    size = int.from_bytes(data[:4], "big")
    box = data[8 : max(16, min(size, 256))]
    brands = {box[i : i + 4] for i in range(0, len(box) - 3, 4) if i != 4}  # skip the minor version
    if brands & _AVIF_BRANDS:
        return "AVIF"
    if brands & _HEIF_BRANDS:
        return "HEIF"
    return None


def media_type(format_name: str) -> str:
    return MEDIA_TYPES.get(format_name, "application/octet-stream")

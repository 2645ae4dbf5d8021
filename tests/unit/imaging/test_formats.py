"""sniff_format tells what the bytes are, whatever the file name or declared content type says."""

import pytest
from PIL import Image

from image_pipeline.imaging import THUMBNAIL, media_type, render, sniff_format
from tests.unit.imaging import samples

PHOTO = samples.photo((48, 32))


@pytest.mark.parametrize(
    ("format_name", "options"),
    [("JPEG", {}), ("PNG", {}), ("GIF", {}), ("WEBP", {}), ("TIFF", {}), ("AVIF", {}), ("BMP", {})],
)
def test_each_format_is_recognised_by_its_magic_bytes(format_name: str, options: dict[str, object]) -> None:
    assert sniff_format(samples.encode(PHOTO, format_name, **options)) == format_name


def test_heif_is_recognised() -> None:
    pillow_heif = pytest.importorskip("pillow_heif")
    heif = pillow_heif.from_pillow(PHOTO)
    try:
        import io  # noqa: PLC0415

        buffer = io.BytesIO()
        heif.save(buffer, quality=60)
    except (RuntimeError, ValueError, OSError) as exc:  # an encoder may be missing from the wheel
        pytest.skip(f"no HEIF encoder here: {exc}")
    assert sniff_format(buffer.getvalue()) == "HEIF"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"%!PS-Adobe-3.0 EPSF-3.0\n", "EPS"),
        (b"%PDF-1.7\n", "PDF"),
        (b"\x01\xda\x01\x01\x00\x03", "SGI"),
        (b"\xff\x4f\xff\x51\x00\x2f", "JPEG2000"),
        (b"\x00\x00\x01\x00\x01\x00", "ICO"),
        (b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"/>', "SVG"),
        (b"<script>alert(1)</script>", None),
        (b"", None),
        (b"GIF8", None),
    ],
    ids=["eps", "pdf", "sgi", "j2k", "ico", "svg", "script", "empty", "short"],
)
def test_other_bytes_are_named_or_unknown(data: bytes, expected: str | None) -> None:
    assert sniff_format(data) == expected


def test_a_png_named_jpg_is_still_a_png() -> None:
    # Given PNG bytes uploaded as "holiday.jpg" with content type image/jpeg
    data = samples.encode(PHOTO, "PNG")
    declared = "image/jpeg"
    # When sniffed / Then the truth is PNG, and the mismatch is visible to the caller
    assert sniff_format(data) == "PNG"
    assert media_type("PNG") != declared
    # And it is still processed as the PNG it is
    assert render(data, [THUMBNAIL])[0].width == 48


def test_a_webp_riff_header_without_the_webp_tag_is_not_webp() -> None:
    assert sniff_format(b"RIFF\x00\x00\x00\x00WAVEfmt ") is None


def test_avif_saved_by_pillow_opens_as_avif() -> None:
    with Image.open(__import__("io").BytesIO(samples.encode(PHOTO, "AVIF"))) as image:
        assert image.format == "AVIF"

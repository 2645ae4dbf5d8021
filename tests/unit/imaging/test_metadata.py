"""Outputs are re-encoded pixels: no EXIF, GPS, XMP, comment, profile or smuggled payload."""

import pytest
from PIL import Image, PngImagePlugin

from image_pipeline.imaging import PREVIEWS, THUMBNAIL, WEB_RENDITIONS, RenditionSpec, render
from tests.unit.imaging import samples

ALL_SPECS = [THUMBNAIL, *WEB_RENDITIONS, *PREVIEWS, RenditionSpec("lossless", 300, "PNG")]
PAYLOAD = b"<script>alert(document.cookie)</script>"


def _tagged_jpeg() -> bytes:
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF>secret-xmp</rdf:RDF></x:xmpmeta>'
    return samples.encode(
        samples.photo((400, 300)), "JPEG", exif=samples.exif_with_gps(), comment=b"secret-comment", xmp=xmp
    )


def test_no_output_carries_exif_gps_xmp_or_comments() -> None:
    # Given a photo with camera EXIF, GPS coordinates, XMP and a JPEG comment
    data = _tagged_jpeg()
    # When every rendition is made
    renditions = render(data, ALL_SPECS)
    # Then none carries any of it
    for made in renditions:
        for marker in (b"Exif", b"GPS", b"secret-xmp", b"secret-comment", b"Acme", b"SecretEditor"):
            assert marker not in made.data, (made.name, marker)
        image = samples.decode(made.data)
        assert not image.getexif(), made.name
        assert not {"exif", "xmp", "comment", "icc_profile"} & set(image.info), (made.name, image.info.keys())


@pytest.mark.parametrize("format_name", ["JPEG", "PNG", "GIF", "WEBP"])
def test_a_trailing_script_payload_never_reaches_an_output(format_name: str) -> None:
    # Given a valid image with a script appended after its end marker
    data = samples.encode(samples.photo((300, 200)), format_name) + PAYLOAD
    # When rendered / Then every output is fresh pixels: the payload is nowhere
    for made in render(data, ALL_SPECS):
        assert PAYLOAD not in made.data
        assert b"<script" not in made.data


def test_a_script_in_a_png_text_chunk_is_not_copied() -> None:
    info = PngImagePlugin.PngInfo()
    info.add_text("Comment", PAYLOAD.decode())
    data = samples.encode(samples.photo((300, 200)), "PNG", pnginfo=info)
    for made in render(data, ALL_SPECS):
        assert b"<script" not in made.data


def test_no_output_is_the_original_bytes() -> None:
    # Given an image already exactly the thumbnail's size and format
    data = samples.encode(samples.photo((256, 128)), "JPEG", quality=82)
    made = render(data, [THUMBNAIL])[0]
    assert made.data != data  # re-encoded even when nothing had to change


def test_an_embedded_profile_is_applied_not_passed_on() -> None:
    data = samples.encode(Image.new("RGB", (64, 64), (255, 0, 0)), "PNG", icc_profile=samples.swapped_profile())
    for made in render(data, ALL_SPECS):
        assert "icc_profile" not in samples.decode(made.data).info

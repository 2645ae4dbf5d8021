"""Every EXIF orientation comes out upright, whichever path decodes the image."""

import pytest

from image_pipeline.imaging import THUMBNAIL, RenditionSpec, analyze, render
from tests.unit.imaging import samples

UPRIGHT = samples.quadrants((240, 160))
EXPECTED = (samples.RED, samples.GREEN, samples.BLUE, samples.YELLOW)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_jpeg_in_any_orientation_comes_out_upright(orientation: int) -> None:
    # Given an asymmetric picture stored as a camera would for this orientation
    stored, exif = samples.stored_sideways(UPRIGHT, orientation)
    data = samples.encode(stored, "JPEG", quality=95, exif=exif)
    # When rendered (at a size that makes the JPEG decode at reduced scale)
    made = render(data, [RenditionSpec("small", 120, "PNG")])[0]
    # Then it is landscape and every quadrant is where it belongs
    image = samples.decode(made.data)
    assert image.size == (120, 80)
    colours = samples.quadrant_colours(image)
    assert all(samples.close(c, e) for c, e in zip(colours, EXPECTED, strict=True)), colours


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_a_png_with_exif_orientation_comes_out_upright(engine: str, orientation: int) -> None:
    # Given a PNG (eXIf chunk) large enough to be shrunk on decode, by libvips or Pillow
    stored, exif = samples.stored_sideways(samples.quadrants((600, 400)), orientation)
    data = samples.encode(stored, "PNG", exif=exif)
    image = samples.decode(render(data, [THUMBNAIL])[0].data)
    assert image.size == (256, 171)
    colours = samples.quadrant_colours(image)
    assert all(samples.close(c, e) for c, e in zip(colours, EXPECTED, strict=True)), (engine, colours)


def test_a_webp_with_exif_orientation_comes_out_upright() -> None:
    stored, exif = samples.stored_sideways(UPRIGHT, 6)
    data = samples.encode(stored, "WEBP", quality=95, exif=exif)
    colours = samples.quadrant_colours(samples.decode(render(data, [THUMBNAIL])[0].data))
    assert all(samples.close(c, e) for c, e in zip(colours, EXPECTED, strict=True)), colours


def test_the_analysis_reports_the_upright_size_and_the_orientation() -> None:
    stored, exif = samples.stored_sideways(UPRIGHT, 6)
    result = analyze(samples.encode(stored, "JPEG", exif=exif))
    assert (result["width"], result["height"]) == (240, 160)
    assert result["orientation"] == 6

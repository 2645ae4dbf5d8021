"""Every EXIF orientation comes out upright, whichever path decodes the image."""

import pytest

from image_pipeline.imaging import THUMBNAIL, CropSpec, RenditionSpec, analyze, render
from image_pipeline.imaging.orientation import stored_region, upright
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


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_region_of_the_upright_picture_is_the_same_region_of_the_stored_pixels(orientation: int) -> None:
    # Given the stored pixels of a picture, and a region of the upright picture on whole pixels
    stored, _ = samples.stored_sideways(samples.photo((60, 40)), orientation)
    region = (0.25, 0.125, 0.75, 0.5)
    picture = upright(stored, orientation)
    # Then cropping the stored pixels there and turning the crop upright gives the same pixels
    from_stored = stored.crop(_pixels(stored_region(region, orientation), stored.size))
    from_picture = picture.crop(_pixels(region, picture.size))
    assert upright(from_stored, orientation).tobytes() == from_picture.tobytes()


def _pixels(region: tuple[float, float, float, float], size: tuple[int, int]) -> tuple[int, int, int, int]:
    width, height = size
    return (round(region[0] * width), round(region[1] * height), round(region[2] * width), round(region[3] * height))


@pytest.mark.parametrize("orientation", range(1, 9))
def test_a_large_cropped_output_in_any_orientation_comes_from_the_right_part_of_the_picture(orientation: int) -> None:
    # Given a big sideways-stored picture, and outputs large enough for libvips' resampler: the
    # whole picture, and the box over its top-right (green) quadrant
    stored, exif = samples.stored_sideways(samples.quadrants((1800, 1200)), orientation)
    data = samples.encode(stored, "JPEG", quality=95, exif=exif)
    whole, green = render(
        data,
        [
            RenditionSpec("whole", 900, "PNG"),
            RenditionSpec("green", 600, "PNG", crop=CropSpec("centre", box=(0.5, 0.0, 1.0, 0.5))),
        ],
    )
    # Then both are upright: the quadrants where they belong, and the box all green
    assert (whole.width, whole.height) == (900, 600)
    colours = samples.quadrant_colours(samples.decode(whole.data))
    assert all(samples.close(c, e) for c, e in zip(colours, EXPECTED, strict=True)), colours
    assert (green.width, green.height) == (600, 400)
    corners = samples.quadrant_colours(samples.decode(green.data))
    assert all(samples.close(c, samples.GREEN) for c in corners), corners

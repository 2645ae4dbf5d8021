"""Pictures for recognizers: upright, within the recognizer's sides and bytes, or refused clearly."""

import io

import pytest
from PIL import Image, ImageChops, ImageStat

from image_pipeline.imaging import ImageLimits, ImageRejected
from image_pipeline.imaging.recognition_input import fitted_size, jpeg_rendition, upright_rgb


def _photo(size: tuple[int, int]) -> Image.Image:
    """A picture whose top-left corner is bright and the rest dark: any turn shows."""
    image = Image.new("RGB", size, (20, 20, 20))
    image.paste((250, 250, 250), (0, 0, size[0] // 3, size[1] // 3))
    return image


def _png(image: Image.Image, orientation: int = 1) -> bytes:
    buffer = io.BytesIO()
    exif = Image.Exif()
    if orientation != 1:
        exif[0x0112] = orientation
    image.save(buffer, "PNG", exif=exif.tobytes())
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("size", "fitted"),
    [
        ((4000, 3000), (2048, 1536)),
        ((2048, 1536), (2048, 1536)),  # at the long side: unchanged
        ((2049, 1000), (2048, 1000)),
        ((640, 80), (640, 80)),  # at the short side: unchanged
        ((640, 79), (648, 80)),  # just under it: scaled up
        ((60, 40), (120, 80)),
        ((2048, 80), (2048, 80)),  # both limits at once
        ((2049, 80), None),  # no scale keeps 80 px high within 2048 px wide
        ((10_000, 60), None),
    ],
)
def test_a_rendition_size_keeps_both_sides_within_the_recognizers_limits(
    size: tuple[int, int], fitted: tuple[int, int] | None
) -> None:
    assert fitted_size(*size, max_side=2048, min_side=80) == fitted


def test_the_model_input_is_upright_whatever_the_stored_orientation() -> None:
    # Given one picture stored upright, and stored sideways with EXIF orientation 6
    upright = _photo((600, 400))
    sideways = upright.transpose(Image.Transpose.ROTATE_90)
    # When each is decoded for a model that needs 256 px a side
    seen_upright = upright_rgb(_png(upright), ImageLimits(), 256)
    seen_sideways = upright_rgb(_png(sideways, orientation=6), ImageLimits(), 256)
    # Then both are the same landscape picture, decoded no smaller than 256 px a side
    assert seen_upright.size == seen_sideways.size
    assert seen_upright.size[0] > seen_upright.size[1] >= 256
    difference = ImageStat.Stat(ImageChops.difference(seen_upright, seen_sideways)).mean
    assert max(difference) < 2


def test_a_transparent_picture_is_shown_over_white() -> None:
    buffer = io.BytesIO()
    Image.new("RGBA", (300, 300), (0, 0, 0, 0)).save(buffer, "PNG")
    seen = upright_rgb(buffer.getvalue(), ImageLimits(), 256)
    assert seen.mode == "RGB"
    assert seen.getpixel((150, 150)) == (255, 255, 255)


def test_a_rendition_is_an_upright_jpeg_within_the_byte_budget() -> None:
    data = _png(_photo((1200, 800)).transpose(Image.Transpose.ROTATE_90), orientation=6)
    rendition = jpeg_rendition(data, ImageLimits(), (600, 400), max_bytes=5_000_000, min_side=80)
    assert rendition is not None
    with Image.open(io.BytesIO(rendition.data)) as seen:
        assert (seen.format, seen.size) == ("JPEG", (600, 400))
        corner = ImageStat.Stat(seen.convert("L").crop((0, 0, 40, 40))).mean[0]
        assert corner > 200  # the bright corner is top left


def test_a_rendition_over_the_byte_budget_shrinks_until_it_fits_or_gives_up() -> None:
    noise = Image.effect_noise((1000, 1000), 120).convert("RGB")
    data = _png(noise)
    full = jpeg_rendition(data, ImageLimits(), (1000, 1000), max_bytes=10_000_000, min_side=80)
    assert full is not None
    budget = len(full.data) // 2
    shrunk = jpeg_rendition(data, ImageLimits(), (1000, 1000), max_bytes=budget, min_side=80)
    assert shrunk is not None
    assert len(shrunk.data) <= budget
    assert shrunk.width < 1000
    assert jpeg_rendition(data, ImageLimits(), (1000, 1000), max_bytes=100, min_side=80) is None


def test_bytes_over_the_limits_are_refused_as_by_every_job() -> None:
    with pytest.raises(ImageRejected) as rejected:
        upright_rgb(_png(_photo((600, 400))), ImageLimits(max_side=500), 256)
    assert rejected.value.reason == "side_too_long"

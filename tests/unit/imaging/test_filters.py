"""Filters: each named look does what it says and keeps size and transparency."""

import pytest
from PIL import Image, ImageStat

from image_pipeline.imaging import FILTERS, RenditionSpec, render
from image_pipeline.imaging.analysis import sharpness
from image_pipeline.imaging.filters import apply_filter
from tests.unit.imaging import samples

PHOTO = samples.photo((200, 150))


def test_the_required_filters_exist() -> None:
    assert {"grayscale", "sepia", "blur", "sharpen", "autocontrast"} <= FILTERS


@pytest.mark.parametrize("name", sorted(FILTERS))
def test_every_filter_keeps_the_size_and_renders(name: str) -> None:
    made = render(samples.encode(PHOTO, "PNG"), [RenditionSpec(f"f-{name}", 200, "JPEG", filter=name)])[0]
    assert (made.width, made.height) == (200, 150)
    assert apply_filter(PHOTO, name).size == PHOTO.size


def test_grayscale_has_no_colour() -> None:
    red, green, blue = apply_filter(PHOTO, "grayscale").split()
    assert red.tobytes() == green.tobytes() == blue.tobytes()


def test_sepia_is_warm() -> None:
    red, green, blue = ImageStat.Stat(apply_filter(PHOTO, "sepia")).mean
    assert red > green > blue


def test_blur_softens_and_sharpen_crisps() -> None:
    gray = PHOTO.convert("L")
    assert sharpness(apply_filter(PHOTO, "blur").convert("L")) < sharpness(gray)
    assert sharpness(apply_filter(PHOTO, "sharpen").convert("L")) > sharpness(gray)


def test_autocontrast_stretches_a_dull_image() -> None:
    dull = Image.eval(PHOTO, lambda v: 100 + v // 4)
    for low, high in ImageStat.Stat(apply_filter(dull, "autocontrast")).extrema:
        assert low <= 5
        assert high >= 250


def test_a_filter_keeps_transparency() -> None:
    image = PHOTO.convert("RGBA")
    image.putalpha(Image.linear_gradient("L").resize(image.size))
    filtered = apply_filter(image, "sepia")
    assert filtered.mode == "RGBA"
    assert filtered.getchannel("A").tobytes() == image.getchannel("A").tobytes()


def test_an_unknown_filter_is_refused_when_the_spec_is_made() -> None:
    with pytest.raises(ValueError, match="unknown filter"):
        RenditionSpec("x", 100, "JPEG", filter="vignette-9000")
    with pytest.raises(ValueError, match="unknown filter"):
        apply_filter(PHOTO, "nope")

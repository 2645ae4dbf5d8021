"""Hostile and broken input is refused with a stable reason and a sentence a person can act on."""

import pytest
from PIL import BmpImagePlugin, EpsImagePlugin, Image

from image_pipeline.imaging import THUMBNAIL, ImageLimits, ImageRejected, analyze, render
from tests.unit.imaging import samples


def _reason(data: bytes, limits: ImageLimits = ImageLimits()) -> ImageRejected:  # noqa: B008
    with pytest.raises(ImageRejected) as rendered:
        render(data, [THUMBNAIL], limits)
    with pytest.raises(ImageRejected) as analysed:
        analyze(data, limits)
    assert rendered.value.reason == analysed.value.reason  # every processor tells the same story
    return rendered.value


def test_a_zero_byte_file_is_empty() -> None:
    # Given nothing at all / When it is processed / Then it is refused as empty
    rejected = _reason(b"")
    assert rejected.reason == "empty"
    assert "empty" in str(rejected)


@pytest.mark.parametrize(
    "data",
    [b"<html><script>alert(1)</script></html>", b"just some text", b"\x00" * 64],
    ids=["html", "text", "zeros"],
)
def test_bytes_that_are_no_image_are_an_unsupported_format(data: bytes) -> None:
    assert _reason(data).reason == "unsupported_format"


@pytest.mark.parametrize(
    ("format_name", "plugin"),
    [("BMP", BmpImagePlugin.BmpImageFile), ("EPS", EpsImagePlugin.EpsImageFile)],
)
def test_a_known_but_refused_format_is_rejected_before_its_plugin_parses_a_byte(
    monkeypatch: pytest.MonkeyPatch, format_name: str, plugin: type[Image.Image]
) -> None:
    # Given a real BMP (or EPS bytes), and a plugin that fails the test if it ever runs
    if format_name == "BMP":
        data = samples.encode(samples.photo((32, 32)), "BMP")
    else:
        data = b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 10 10\nshowpage\n"

    def tripwire(*_: object) -> None:
        raise AssertionError(f"the {format_name} plugin parsed untrusted bytes")

    monkeypatch.setattr(plugin, "_open", tripwire)
    # When it is processed / Then it is refused by name, and the plugin never ran
    rejected = _reason(data)
    assert rejected.reason == "unsupported_format"
    assert format_name in str(rejected)


def test_an_allowed_format_can_be_switched_off() -> None:
    data = samples.encode(samples.photo((32, 32)), "PNG")
    limits = ImageLimits(allowed_formats=frozenset({"JPEG"}))
    rejected = _reason(data, limits)
    assert rejected.reason == "unsupported_format"
    assert "PNG images are not accepted" in str(rejected)


def test_a_small_file_declaring_a_huge_image_is_a_decompression_bomb() -> None:
    # Given 69 bytes that declare 7000x7000 px (more than the cap, and more than bytes can hold)
    data = samples.png_declaring(7000, 7000)
    # When it is processed / Then no pixel is decoded: it is refused as a bomb
    rejected = _reason(data)
    assert rejected.reason == "decompression_bomb"
    assert "7000x7000" in str(rejected)


def test_a_declared_size_beyond_pillows_own_limit_is_a_decompression_bomb() -> None:
    assert _reason(samples.png_declaring(100_000, 100_000)).reason == "decompression_bomb"


def test_a_real_image_over_the_pixel_cap_is_too_many_pixels() -> None:
    # Given an honest 400x300 photo and a 100k-pixel cap
    data = samples.encode(samples.photo((400, 300)), "JPEG")
    rejected = _reason(data, ImageLimits(max_pixels=100_000))
    # Then it is refused for its size, with the numbers in the sentence
    assert rejected.reason == "too_many_pixels"
    assert "400x300" in str(rejected)


def test_a_100000_by_1_image_has_a_side_too_long() -> None:
    data = samples.encode(Image.new("RGB", (100_000, 1), (10, 20, 30)), "PNG")
    rejected = _reason(data)
    assert rejected.reason == "side_too_long"
    assert str(rejected) == "image is 100000x1 px; the longest side allowed is 12000 px"


def test_an_animation_with_more_frames_than_the_cap_is_refused() -> None:
    # Given a GIF of 120 distinct frames and the default cap of 100
    rejected = _reason(samples.animated_gif(120))
    assert rejected.reason == "too_many_frames"
    assert "120 frames" in str(rejected)


def test_a_frame_cap_is_a_parameter() -> None:
    assert _reason(samples.animated_gif(5), ImageLimits(max_frames=4)).reason == "too_many_frames"


@pytest.mark.parametrize("format_name", ["JPEG", "PNG"])
def test_a_truncated_file_is_refused_not_padded(format_name: str) -> None:
    # Given the first half of a valid image
    data = samples.encode(samples.photo((640, 480)), format_name)
    # When it is processed / Then it is refused as truncated (never a grey-padded rendition)
    assert _reason(data[: len(data) // 2]).reason == "truncated"


def test_a_truncated_png_is_truncated_without_libvips_too(pillow_only: None) -> None:
    data = samples.encode(samples.photo((640, 480)), "PNG")
    assert _reason(data[: len(data) // 2]).reason == "truncated"


def test_garbage_after_a_valid_header_is_corrupt() -> None:
    data = samples.encode(samples.photo((64, 64)), "PNG")
    assert _reason(data[:60] + b"\x17" * 200).reason in {"corrupt", "truncated"}


def test_a_jpeg_with_garbage_instead_of_pixels_is_refused() -> None:
    data = samples.encode(samples.photo((64, 64)), "JPEG")
    header_end = data.index(b"\xff\xda")  # start of scan
    rejected = _reason(data[: header_end + 10])
    assert rejected.reason in {"truncated", "corrupt"}


def test_limits_are_checked_in_upright_orientation() -> None:
    # Given a 100x20 image stored sideways (20x100) with EXIF orientation 6, and a 60 px side cap
    stored, exif = samples.stored_sideways(Image.new("RGB", (100, 20), (1, 2, 3)), 6)
    data = samples.encode(stored, "JPEG", exif=exif)
    assert "image is 100x20 px" in str(_reason(data, ImageLimits(max_side=60)))

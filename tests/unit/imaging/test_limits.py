"""Hostile and broken input is refused with a stable reason and a sentence a person can act on,
naming the stack's own limits (the parameter to change), never the imaging library's."""

import pytest
from PIL import BmpImagePlugin, EpsImagePlugin, Image

from image_pipeline.imaging import THUMBNAIL, ImageLimits, ImageRejected, analyze, render
from image_pipeline.imaging.limits import PARAMETERS
from tests.unit.imaging import samples

# Pillow's own decompression-bomb thresholds (Image.MAX_IMAGE_PIXELS and twice it): never a user's
PILLOW_LIMITS = ("89478485", "89,478,485", "178956970", "178,956,970")


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


def _padded(data: bytes, size: int) -> bytes:
    """``data`` followed by bytes no decoder reads, to ``size`` bytes in all: a file that is
    large for the pixels it declares, as an honest (if huge) picture would be."""
    return data + b"\0" * (size - len(data))


@pytest.mark.parametrize(
    ("data", "reason", "named"),
    [
        # past Pillow's error threshold (2 x 89,478,485): Image.open itself refuses it
        (samples.png_declaring(20_000, 20_000), "decompression_bomb", "at most 40,000,000 pixels are allowed"),
        # past its warning threshold, in a file big enough to hold it: too many pixels, not a bomb
        (_padded(samples.png_declaring(10_000, 10_000), 200_000), "too_many_pixels", "at most 40,000,000 pixels"),
        # as big as the 20000 x 20000 PNG: its side is the first limit it breaks
        (_padded(samples.png_declaring(20_000, 20_000), 500_000), "side_too_long", "longest side allowed is 12,000 px"),
    ],
    ids=["bomb-past-pillow-error", "honest-past-pillow-warning", "honest-past-pillow-error"],
)
def test_a_refusal_past_pillows_own_thresholds_names_the_stacks_limits_not_pillows(
    data: bytes, reason: str, named: str
) -> None:
    # Given an image beyond the thresholds Pillow checks before the pipeline sees the size
    # When it is processed with the stack's default limits
    rejected = _reason(data)
    # Then the reason is the pipeline's, and its sentence names the stack's limit and parameter
    assert rejected.reason == reason
    assert named in str(rejected)
    assert any(parameter in str(rejected) for parameter in PARAMETERS.values())
    assert not any(number in str(rejected) for number in PILLOW_LIMITS), str(rejected)


@pytest.mark.parametrize(
    ("size", "reason"), [(199, "decompression_bomb"), (200, "too_many_pixels"), (201, "too_many_pixels")]
)
def test_a_bomb_is_a_file_declaring_more_than_1000_pixels_per_byte(size: int, reason: str) -> None:
    # Given 500x400 px (200,000 pixels, over a 100,000-pixel cap) declared by a file of 199, 200, 201 bytes
    data = _padded(samples.png_declaring(500, 400), size)
    # Then beyond 1000 pixels per byte it is a bomb; at or below, an image with too many pixels
    rejected = _reason(data, ImageLimits(max_pixels=100_000))
    assert rejected.reason == reason
    assert "at most 100,000 pixels are allowed (MaxImagePixels)" in str(rejected)


# ---------------------------------------------------------------- each limit: just below, at, just above
BOUNDARY = [(+1, False), (0, False), (-1, True)]  # the limit relative to the image, and whether it is refused
BOUNDARY_IDS = ["image-below-limit", "image-at-limit", "image-above-limit"]


@pytest.mark.parametrize(("offset", "refused"), BOUNDARY, ids=BOUNDARY_IDS)
def test_the_pixel_limit_admits_an_image_up_to_it(offset: int, refused: bool) -> None:
    data = samples.encode(samples.photo((100, 100)), "PNG")  # 10,000 pixels
    limits = ImageLimits(max_pixels=10_000 + offset)
    if not refused:
        assert render(data, [THUMBNAIL], limits)
        assert analyze(data, limits)["width"] == 100
        return
    rejected = _reason(data, limits)
    assert rejected.reason == "too_many_pixels"
    assert str(rejected) == "image is 100x100 px (10,000 pixels); at most 9,999 pixels are allowed (MaxImagePixels)"


@pytest.mark.parametrize(("offset", "refused"), BOUNDARY, ids=BOUNDARY_IDS)
def test_the_side_limit_admits_an_image_up_to_it(offset: int, refused: bool) -> None:
    data = samples.encode(samples.photo((100, 40)), "PNG")
    limits = ImageLimits(max_side=100 + offset)
    if not refused:
        assert render(data, [THUMBNAIL], limits)
        return
    rejected = _reason(data, limits)
    assert rejected.reason == "side_too_long"
    assert str(rejected) == "image is 100x40 px; the longest side allowed is 99 px (MaxImageSidePixels)"


@pytest.mark.parametrize(("offset", "refused"), BOUNDARY, ids=BOUNDARY_IDS)
def test_the_frame_limit_admits_an_animation_up_to_it(offset: int, refused: bool) -> None:
    data = samples.animated_gif(5)
    limits = ImageLimits(max_frames=5 + offset)
    if not refused:
        assert analyze(data, limits)["frameCount"] == 5
        return
    rejected = _reason(data, limits)
    assert rejected.reason == "too_many_frames"
    assert str(rejected) == "image has 5 frames; at most 4 are allowed (MaxAnimationFrames)"

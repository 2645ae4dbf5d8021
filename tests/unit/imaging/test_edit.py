"""The pixel work of an edit: crop, filters and compress, each at the size the output needs."""

from typing import TYPE_CHECKING

import pytest
from PIL import Image, ImageStat

from image_pipeline.imaging import CropSpec, ImageLimits, ImageRejected, Rendition
from image_pipeline.imaging.edit import Fit, compress_image, crop_image, filter_image, working_image
from tests.unit.imaging import samples

if TYPE_CHECKING:
    from collections.abc import Callable

PHOTO = samples.photo((640, 480))
LIMITS = ImageLimits()


@pytest.mark.parametrize(
    ("fit", "size", "expected"),
    [
        (Fit(4096), (640, 480), (640, 480)),  # nothing asked: unchanged
        (Fit(4096, width=320), (640, 480), (320, 240)),  # aspect kept
        (Fit(4096, height=120), (640, 480), (160, 120)),
        (Fit(4096, width=320, height=60), (640, 480), (80, 60)),  # fits inside both
        (Fit(4096, width=2000), (640, 480), (640, 480)),  # never upscaled
        (Fit(100), (640, 480), (100, 75)),  # never past the edit's longest side
        (Fit(4096, width=1), (640, 10), (1, 1)),  # never below one pixel
    ],
)
def test_fit_keeps_the_aspect_and_never_upscales(fit: Fit, size: tuple[int, int], expected: tuple[int, int]) -> None:
    assert fit.size(*size) == expected


def test_a_square_crop_at_the_output_size_is_a_lossless_intermediate() -> None:
    made = crop_image(
        samples.encode(PHOTO, "JPEG", quality=95), LIMITS, CropSpec("centre", aspect=(1, 1)), Fit(4096, width=200)
    )
    assert (made.width, made.height) == (200, 200)
    assert made.format == "PNG"
    with samples.decode(made.data) as image:
        assert image.format == "PNG"
        assert image.size == (200, 200)


def test_a_centred_crop_keeps_the_middle() -> None:
    # The quadrants image cropped to a square keeps all four quadrants, equally
    data = samples.encode(samples.quadrants((240, 120)), "PNG")
    made = crop_image(data, LIMITS, CropSpec("centre", aspect=(1, 1)), Fit(4096))
    image = samples.decode(made.data)
    assert image.size == (120, 120)
    top_left, top_right, bottom_left, bottom_right = samples.quadrant_colours(image)
    assert samples.close(top_left, samples.RED)
    assert samples.close(top_right, samples.GREEN)
    assert samples.close(bottom_left, samples.BLUE)
    assert samples.close(bottom_right, samples.YELLOW)


def test_a_box_crop_takes_that_part_of_the_upright_image() -> None:
    data = samples.encode(samples.quadrants((240, 160)), "PNG")
    made = crop_image(data, LIMITS, CropSpec("centre", box=(0.5, 0.5, 1.0, 1.0)), Fit(4096))
    image = samples.decode(made.data)
    assert image.size == (120, 80)
    assert all(samples.close(c, samples.YELLOW) for c in samples.quadrant_colours(image))


def test_the_first_step_decodes_a_large_jpeg_no_larger_than_the_output_needs() -> None:
    large = samples.encode(samples.photo((2400, 1600)), "JPEG", quality=90)
    image = working_image(large, LIMITS, Fit(4096, width=300))
    assert image.size == (300, 200)


def test_filters_apply_in_order_and_sepia_is_warm() -> None:
    made = filter_image(samples.encode(PHOTO, "PNG"), LIMITS, ["grayscale", "sepia"], Fit(4096))
    image = samples.decode(made.data).convert("RGB")
    assert image.size == PHOTO.size
    red, green, blue = ImageStat.Stat(image).mean
    assert red > green > blue  # sepia after grayscale: a warm tone, not gray
    grayscale_last = samples.decode(
        filter_image(samples.encode(PHOTO, "PNG"), LIMITS, ["sepia", "grayscale"], Fit(4096)).data
    )
    r, g, b = grayscale_last.convert("RGB").split()
    assert r.tobytes() == g.tobytes() == b.tobytes()


def test_filters_keep_transparency() -> None:
    rgba = PHOTO.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(PHOTO.size))
    made = filter_image(samples.encode(rgba, "PNG"), LIMITS, ["sepia"], Fit(4096))
    assert samples.decode(made.data).mode == "RGBA"


@pytest.mark.parametrize(
    ("name", "media_type"),
    [("JPEG", "image/jpeg"), ("WEBP", "image/webp"), ("AVIF", "image/avif"), ("PNG", "image/png")],
)
def test_compress_resizes_and_encodes_without_metadata(name: str, media_type: str) -> None:
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    data = samples.encode(PHOTO, "JPEG", quality=95, exif=exif.tobytes())
    made = compress_image(data, LIMITS, Fit(4096, width=320), name)  # type: ignore[arg-type]
    assert (made.width, made.height) == (320, 240)
    assert made.media_type == media_type
    image = samples.decode(made.data)
    assert image.format == name
    assert image.size == (320, 240)
    assert not image.getexif()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty"),
        (samples.encode(PHOTO, "JPEG")[:2000], "truncated"),
        (b"%PDF-1.7 not an image", "unsupported_format"),
    ],
)
def test_every_step_refuses_what_the_engine_refuses(data: bytes, reason: str) -> None:
    steps: list[Callable[[], Rendition]] = [
        lambda: crop_image(data, LIMITS, CropSpec("centre", aspect=(1, 1)), Fit(4096)),
        lambda: filter_image(data, LIMITS, ["sepia"], Fit(4096)),
        lambda: compress_image(data, LIMITS, Fit(4096), "JPEG"),
    ]
    for step in steps:
        with pytest.raises(ImageRejected) as refused:
            step()
        assert refused.value.reason == reason


def test_the_limits_hold_for_edits_too() -> None:
    data = samples.encode(PHOTO, "PNG")
    with pytest.raises(ImageRejected) as refused:
        compress_image(data, ImageLimits(max_pixels=640 * 480 - 1), Fit(4096), "JPEG")
    assert refused.value.reason == "too_many_pixels"

"""analyze(): the recognize facts, JSON-ready, with no location in them."""

import json

import pytest
from PIL import Image

from image_pipeline.imaging import ImageRejected, analyze
from tests.unit.imaging import samples

PHOTO = samples.photo((640, 480))


def _hamming(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def test_the_analysis_has_every_field_and_is_json() -> None:
    result = analyze(samples.encode(PHOTO, "JPEG", exif=samples.exif_with_gps()))
    json.dumps(result)  # serialisable as it is
    assert result["format"] == "JPEG"
    assert result["mediaType"] == "image/jpeg"
    assert (result["width"], result["height"]) == (640, 480)
    assert result["megapixels"] == 0.31
    assert result["mode"] == "RGB"
    assert result["hasAlpha"] is False
    assert result["animated"] is False
    assert result["frameCount"] == 1
    assert len(result["perceptualHash"]) == 16
    assert 0 <= result["sharpness"] <= 1
    assert 0 < result["brightness"] < 1
    assert result["dominantColours"]
    assert abs(sum(c["share"] for c in result["dominantColours"]) - 1) < 0.01


def test_the_exif_summary_has_the_camera_and_never_the_location() -> None:
    result = analyze(samples.encode(PHOTO, "JPEG", exif=samples.exif_with_gps()))
    exif = result["exif"]
    assert exif["make"] == "Acme"
    assert exif["model"] == "Snapper 3000"
    assert exif["takenAt"] == "2024-05-17T14:03:22"
    assert exif["exposureTime"] == "1/250s"
    assert exif["iso"] == 200
    assert exif["hasLocation"] is True  # it had one: outputs have it stripped
    text = json.dumps(result)
    for leak in ("51.0", "30.0", "26.0", '"N"', '"W"', "GPS", "latitude", "longitude"):
        assert leak not in text, leak


def test_the_perceptual_hash_survives_a_re_encode_and_tells_pictures_apart() -> None:
    # Given one picture saved twice (PNG, and JPEG at low quality, downsized) and another picture
    original = analyze(samples.encode(PHOTO, "PNG"))["perceptualHash"]
    reencoded = analyze(samples.encode(PHOTO.resize((320, 240)), "JPEG", quality=40))["perceptualHash"]
    other = analyze(samples.encode(samples.quadrants((640, 480)), "PNG"))["perceptualHash"]
    # Then the copies are near-identical and the other picture is far
    assert _hamming(original, reencoded) <= 6
    assert _hamming(original, other) >= 16


def test_dominant_colours_are_those_of_the_picture() -> None:
    # Given an image that is 75 % red and 25 % blue
    image = Image.new("RGB", (400, 400), (230, 20, 20))
    image.paste((20, 20, 230), (0, 300, 400, 400))
    colours = analyze(samples.encode(image, "PNG"))["dominantColours"]
    # Then red leads with ~3/4 of the pixels and blue follows with ~1/4
    first, second = colours[0], colours[1]
    assert samples.close(tuple(int(first["hex"][i : i + 2], 16) for i in (1, 3, 5)), (230, 20, 20), tolerance=12)
    assert samples.close(tuple(int(second["hex"][i : i + 2], 16) for i in (1, 3, 5)), (20, 20, 230), tolerance=12)
    assert abs(first["share"] - 0.75) < 0.05
    assert abs(second["share"] - 0.25) < 0.05


def test_a_sharp_photo_is_sharper_than_its_blurred_copy() -> None:
    sharp = analyze(samples.encode(PHOTO, "PNG"))["sharpness"]
    soft = analyze(samples.encode(samples.blurred(PHOTO, 4), "PNG"))["sharpness"]
    assert sharp > soft + 0.2


def test_an_animation_reports_its_frames() -> None:
    result = analyze(samples.animated_gif(7))
    assert result["animated"] is True
    assert result["frameCount"] == 7


def test_transparency_is_reported() -> None:
    image = PHOTO.convert("RGBA")
    image.putalpha(128)
    assert analyze(samples.encode(image, "PNG"))["hasAlpha"] is True


def test_a_large_png_is_analysed_on_a_small_proxy(engine: str) -> None:
    result = analyze(samples.encode(samples.photo((1600, 1200)), "PNG"))
    assert (result["width"], result["height"]) == (1600, 1200), engine
    assert result["isGrayscale"] is False


def test_a_grayscale_picture_is_recognised() -> None:
    assert analyze(samples.encode(PHOTO.convert("L"), "JPEG"))["isGrayscale"] is True


def test_bad_input_is_rejected() -> None:
    with pytest.raises(ImageRejected):
        analyze(b"GIF89a broken")

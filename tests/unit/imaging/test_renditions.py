"""render(): sizes, formats and the one-decode fast paths."""

import pytest
from PIL import Image, ImageChops, ImageStat

from image_pipeline.imaging import (
    PREVIEWS,
    THUMBNAIL,
    WEB_RENDITIONS,
    CropSpec,
    ImageRejected,
    RenditionSpec,
    encoders,
    guard,
    render,
    vips,
)
from tests.unit.imaging import samples

PHOTO = samples.photo((1200, 800))


def test_the_pipelines_specs_are_named_as_the_handlers_store_them() -> None:
    assert (THUMBNAIL.name, THUMBNAIL.max_side, THUMBNAIL.format) == ("thumbnail", 256, "JPEG")
    assert {s.name for s in WEB_RENDITIONS} == {
        f"w{side}-{fmt}" for side in (1024, 2048) for fmt in ("jpeg", "webp", "avif")
    }
    assert [s.name for s in PREVIEWS] == ["crop-square", "filter-sepia"]


def test_every_rendition_decodes_back_in_its_format_at_its_size() -> None:
    # Given a 1200x800 photo
    data = samples.encode(PHOTO, "JPEG", quality=92)
    # When every pipeline spec is rendered
    renditions = render(data, [THUMBNAIL, *WEB_RENDITIONS, *PREVIEWS])
    # Then each decodes as its format, at the size it reports, longest side = max_side (never upscaled)
    expected = {
        "thumbnail": (256, 171),
        "w1024-jpeg": (1024, 683),
        "w2048-jpeg": (1200, 800),
        "crop-square": (512, 512),
        "filter-sepia": (512, 341),
    }
    for made in renditions:
        image = samples.decode(made.data)
        assert image.format == made.format
        assert image.size == (made.width, made.height)
        assert made.media_type == f"image/{made.format.lower()}"
        assert made.extension == {"JPEG": "jpg", "WEBP": "webp", "AVIF": "avif"}[made.format]
        if made.name in expected:
            assert image.size == expected[made.name], made.name
        spec = next(s for s in [THUMBNAIL, *WEB_RENDITIONS, *PREVIEWS] if s.name == made.name)
        assert max(image.size) == min(spec.max_side, 1200)


def test_a_small_image_is_never_upscaled() -> None:
    data = samples.encode(samples.photo((100, 60)), "PNG")
    made = render(data, [RenditionSpec("big", 2048, "WEBP")])[0]
    assert (made.width, made.height) == (100, 60)


@pytest.mark.parametrize("format_name", ["JPEG", "PNG", "WEBP", "GIF", "TIFF", "AVIF"])
def test_each_accepted_input_format_renders(format_name: str) -> None:
    data = samples.encode(samples.photo((400, 300)), format_name)
    made = render(data, [THUMBNAIL])[0]
    assert (made.width, made.height) == (256, 192)


def test_an_animated_gif_renders_its_first_frame() -> None:
    data = samples.animated_gif(5, size=(40, 30))
    image = samples.decode(render(data, [RenditionSpec("first", 40, "PNG")])[0].data)
    assert samples.close(samples.pixel(image, (20, 15)), (0, 0, 0), tolerance=4)


def test_an_animated_webp_renders_its_first_frame() -> None:
    frames = [Image.new("RGB", (40, 30), colour) for colour in (samples.RED, samples.GREEN, samples.BLUE)]
    data = samples.encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    image = samples.decode(render(data, [RenditionSpec("first", 40, "PNG")])[0].data)
    assert samples.close(samples.pixel(image, (20, 15)), samples.RED, tolerance=8)


def test_a_jpeg_is_decoded_only_as_large_as_the_largest_spec_needs(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a 4000x3000 JPEG, and a spy on the decoder
    data = samples.encode(samples.photo((4000, 3000)), "JPEG")
    decoded: list[tuple[int, int]] = []
    real_load = guard.load

    def spy(image: Image.Image, size_bytes: int, target: tuple[int, int] | None = None) -> Image.Image:
        result = real_load(image, size_bytes, target)
        decoded.append(result.size)
        return result

    monkeypatch.setattr("image_pipeline.imaging.decode.load", spy)
    # When only the thumbnail is made / Then the DCT decode stopped at 1/8 scale (500x375)
    render(data, [THUMBNAIL])
    assert decoded == [(500, 375)]
    # And for 1024 px renditions at 1/2 scale: the smallest that still covers 1024 px
    decoded.clear()
    render(data, [THUMBNAIL, *WEB_RENDITIONS[:3]])
    assert decoded == [(2000, 1500)]


def test_a_crop_preview_decodes_enough_pixels_for_its_window(monkeypatch: pytest.MonkeyPatch) -> None:
    # A 512 px square from a 4000x1000 panorama needs the 1000 px high window at >= 512 px
    data = samples.encode(samples.photo((4000, 1000)), "JPEG")
    made = render(data, [RenditionSpec("sq", 512, "JPEG", crop=CropSpec("centre", aspect=(1, 1)))])[0]
    assert (made.width, made.height) == (512, 512)


def test_same_size_specs_share_one_resample_and_all_formats_match() -> None:
    data = samples.encode(PHOTO, "PNG")
    renditions = render(data, WEB_RENDITIONS[:3])
    images = [samples.decode(made.data) for made in renditions]
    assert {image.size for image in images} == {(1024, 683)}
    reference = samples.pixel(images[0], (100, 100))
    for image in images[1:]:
        assert samples.close(samples.pixel(image, (100, 100)), reference, tolerance=24)


def test_libvips_and_pillow_make_the_same_picture(monkeypatch: pytest.MonkeyPatch) -> None:
    if not vips.available():
        pytest.skip("libvips is not installed")
    # Given a PNG (libvips decodes and shrinks it) and the same with Pillow alone
    data = samples.encode(PHOTO, "PNG")
    spec = RenditionSpec("cmp", 600, "PNG")
    with_vips = samples.decode(render(data, [spec])[0].data).convert("L")
    monkeypatch.setattr(vips, "_pyvips", lambda: None)
    with_pillow = samples.decode(render(data, [spec])[0].data).convert("L")
    # Then the two pictures are the same to within resampling noise
    assert with_vips.size == with_pillow.size
    assert ImageStat.Stat(ImageChops.difference(with_vips, with_pillow)).mean[0] < 3


def test_render_of_no_specs_still_validates_the_image() -> None:
    assert render(samples.encode(PHOTO, "JPEG"), []) == []
    with pytest.raises(ImageRejected):
        render(b"nope", [])


def test_rendition_bytes_are_not_in_its_repr() -> None:
    made = render(samples.encode(samples.photo((64, 64)), "JPEG"), [THUMBNAIL])[0]
    assert "data" not in repr(made)


def test_identical_outputs_are_encoded_once_and_say_which_they_repeat(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a source smaller than every web rendition, and a count of the encodes
    data = samples.encode(samples.photo((800, 600)), "JPEG")
    encodes: list[str] = []
    real_encode = encoders.encode

    def counting(image: Image.Image, format_name: str) -> bytes:
        encodes.append(format_name)
        return real_encode(image, format_name)

    monkeypatch.setattr("image_pipeline.imaging.renditions.encode", counting)
    # When every web rendition is made
    made = {r.name: r for r in render(data, WEB_RENDITIONS)}
    # Then each format was encoded once: the w2048 renditions are the w1024 ones, and say so
    assert sorted(encodes) == ["AVIF", "JPEG", "WEBP"]
    for fmt in ("jpeg", "webp", "avif"):
        small, large = made[f"w1024-{fmt}"], made[f"w2048-{fmt}"]
        assert (small.same_as, large.same_as) == (None, f"w1024-{fmt}")
        assert large.data == small.data
        assert (large.width, large.height) == (small.width, small.height) == (800, 600)


def test_a_large_source_repeats_nothing() -> None:
    made = render(samples.encode(PHOTO.resize((2400, 1600)), "JPEG"), WEB_RENDITIONS)
    assert [r.same_as for r in made] == [None] * len(WEB_RENDITIONS)
    assert len({r.data for r in made}) == len(WEB_RENDITIONS)


def test_the_decoded_pixels_cross_to_libvips_once_for_every_large_output(monkeypatch: pytest.MonkeyPatch) -> None:
    if not vips.available():
        pytest.skip("libvips is not installed")
    # Given a photo big enough for three distinct large outputs (w2048, w1024, the square preview)
    crossings: list[tuple[int, int]] = []
    real_from_pillow = vips.from_pillow

    def counted(image: Image.Image) -> object:
        crossings.append(image.size)
        return real_from_pillow(image)

    monkeypatch.setattr(vips, "from_pillow", counted)
    data = samples.encode(samples.photo((3000, 2000)), "JPEG")
    made = render(data, [*WEB_RENDITIONS, *PREVIEWS])
    # Then every output has its size, and the base went to libvips once
    assert {(r.name, r.width) for r in made} >= {("w2048-jpeg", 2048), ("w1024-webp", 1024)}
    assert crossings == [(3000, 2000)]

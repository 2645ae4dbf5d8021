"""Colour comes out right: profiles applied, CMYK converted, 16 bits scaled, alpha handled."""

from PIL import Image

from image_pipeline.imaging import THUMBNAIL, RenditionSpec, render
from tests.unit.imaging import samples

RED_PIXELS = Image.new("RGB", (600, 400), (255, 0, 0))


def _centre(data: bytes) -> tuple[int, ...]:
    image = samples.decode(data)
    return samples.pixel(image, (image.width // 2, image.height // 2), "RGBA")


def test_a_jpeg_profile_is_converted_to_srgb() -> None:
    # Given red pixels tagged with a profile whose "red" primary is sRGB's blue
    data = samples.encode(RED_PIXELS, "JPEG", quality=95, icc_profile=samples.swapped_profile())
    # When rendered / Then the output shows what the profile means: blue
    assert samples.close(_centre(render(data, [THUMBNAIL])[0].data), (0, 0, 255))


def test_a_png_profile_is_converted_to_srgb(engine: str) -> None:
    data = samples.encode(RED_PIXELS, "PNG", icc_profile=samples.swapped_profile())
    assert samples.close(_centre(render(data, [THUMBNAIL])[0].data), (0, 0, 255)), engine


def test_an_srgb_profile_keeps_the_colours() -> None:
    from PIL import ImageCms  # noqa: PLC0415

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = samples.encode(RED_PIXELS, "JPEG", quality=95, icc_profile=srgb)
    assert samples.close(_centre(render(data, [THUMBNAIL])[0].data), (255, 0, 0), tolerance=12)


def test_a_cmyk_jpeg_comes_out_in_the_right_colours() -> None:
    # Given a CMYK JPEG (Adobe inverted) of a red / green / blue / yellow picture
    cmyk = samples.quadrants((240, 160)).convert("CMYK")
    data = samples.encode(cmyk, "JPEG", quality=95)
    assert samples.decode(data).mode == "CMYK"
    # When rendered / Then the output is RGB with the same quadrant colours
    image = samples.decode(render(data, [RenditionSpec("rgb", 120, "PNG")])[0].data)
    assert image.mode == "RGB"
    colours = samples.quadrant_colours(image)
    expected = (samples.RED, samples.GREEN, samples.BLUE, samples.YELLOW)
    assert all(samples.close(c, e) for c, e in zip(colours, expected, strict=True)), colours


def test_a_16_bit_png_is_scaled_down_not_clipped(engine: str) -> None:
    # Given a 16-bit grayscale PNG at 40000 / 65535 (Pillow's plain conversion would clip to white)
    data = samples.encode(Image.new("I;16", (600, 400), 40000), "PNG")
    # When rendered / Then the grey is 40000 / 257 ~ 156
    red, green, blue, _ = _centre(render(data, [THUMBNAIL])[0].data)
    assert abs(red - 156) <= 3, engine
    assert red == green == blue


def test_a_16_bit_png_at_full_size_is_scaled_too() -> None:
    data = samples.encode(Image.new("I;16", (64, 32), 40000), "PNG")
    assert abs(_centre(render(data, [THUMBNAIL])[0].data)[0] - 156) <= 3


def _palette_with_hole(size: tuple[int, int]) -> bytes:
    # A red palette image whose centre uses the transparent index.
    image = Image.new("P", size, 1)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0, 0, 0] * 254)
    hole = Image.new("P", (size[0] // 2, size[1] // 2), 0)
    image.paste(hole, (size[0] // 4, size[1] // 4))
    return samples.encode(image, "PNG", transparency=0)


def test_a_transparent_palette_png_keeps_alpha_where_the_format_has_it(engine: str) -> None:
    data = _palette_with_hole((600, 400))
    specs = [RenditionSpec(f"t-{f.lower()}", 300, f) for f in ("PNG", "WEBP", "AVIF")]
    for made in render(data, specs):
        image = samples.decode(made.data)
        assert samples.pixel(image, (150, 100), "RGBA")[3] < 30, (engine, made.format)
        corner = samples.pixel(image, (5, 5), "RGBA")
        assert samples.close(corner, (255, 0, 0)), (engine, made.format, corner)
        assert corner[3] > 225, (engine, made.format, corner)


def test_a_transparent_palette_png_is_flattened_on_white_for_jpeg(engine: str) -> None:
    data = _palette_with_hole((600, 400))
    red, green, blue, _ = _centre(render(data, [THUMBNAIL])[0].data)
    assert min(red, green, blue) > 235, engine  # the hole is white, not black


def test_an_opaque_alpha_channel_is_dropped() -> None:
    data = samples.encode(samples.photo((64, 64)).convert("RGBA"), "PNG")
    assert samples.decode(render(data, [RenditionSpec("p", 64, "PNG")])[0].data).mode == "RGB"

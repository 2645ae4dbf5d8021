"""Images made in code for the imaging specs: small, deterministic, each built for one question."""

import io
import struct
import zlib
from typing import Any

from PIL import Image, ImageDraw, ImageFilter

RED = (220, 30, 30)
GREEN = (30, 180, 60)
BLUE = (30, 60, 220)
YELLOW = (240, 220, 40)


def encode(image: Image.Image, format_name: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format_name, **options)
    return buffer.getvalue()


def decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def photo(size: tuple[int, int] = (320, 240)) -> Image.Image:
    """Photo-like content: a fractal's detail over smooth colour gradients, with hard edges."""
    detail = Image.effect_mandelbrot(size, (-2.0, -1.2, 0.8, 1.2), 64)
    red = Image.linear_gradient("L").resize(size)
    blue = Image.radial_gradient("L").resize(size)
    image = Image.merge("RGB", (red, detail, blue))
    draw = ImageDraw.Draw(image)
    w, h = size
    draw.rectangle((w // 8, h // 6, w // 3, h // 2), fill=YELLOW, outline=(0, 0, 0), width=max(1, w // 100))
    draw.ellipse((w // 2, h // 2, w - w // 8, h - h // 10), fill=BLUE)
    return image


def blurred(image: Image.Image, radius: float = 3) -> Image.Image:
    return image.filter(ImageFilter.GaussianBlur(radius))


def quadrants(size: tuple[int, int] = (240, 160)) -> Image.Image:
    """An image with no symmetry: red, green / blue, yellow quadrants (top-left first)."""
    w, h = size
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, w // 2 - 1, h // 2 - 1), fill=RED)
    draw.rectangle((w // 2, 0, w - 1, h // 2 - 1), fill=GREEN)
    draw.rectangle((0, h // 2, w // 2 - 1, h - 1), fill=BLUE)
    draw.rectangle((w // 2, h // 2, w - 1, h - 1), fill=YELLOW)
    return image


def pixel(image: Image.Image, xy: tuple[int, int], mode: str = "RGB") -> tuple[int, ...]:
    """One pixel as a tuple of ints (RGB by default, or RGBA)."""
    value = image.convert(mode).getpixel(xy)
    assert isinstance(value, tuple)
    return tuple(int(v) for v in value)


def quadrant_colours(image: Image.Image) -> tuple[tuple[int, ...], ...]:
    """The colour at the centre of each quadrant: top-left, top-right, bottom-left, bottom-right."""
    w, h = image.size
    points = ((w // 4, h // 4), (3 * w // 4, h // 4), (w // 4, 3 * h // 4), (3 * w // 4, 3 * h // 4))
    return tuple(pixel(image, p) for p in points)


def close(colour: tuple[int, ...], expected: tuple[int, ...], tolerance: int = 40) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(colour[:3], expected, strict=True))


# EXIF orientation n: the transpose that turns upright pixels into the stored ones (the inverse
# of what a viewer applies).
_STORE = {
    1: None,
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


def stored_sideways(upright: Image.Image, orientation: int) -> tuple[Image.Image, bytes]:
    """The pixels a camera stores for ``upright`` with EXIF ``orientation``, and that EXIF block."""
    method = _STORE[orientation]
    stored = upright if method is None else upright.transpose(method)
    exif = Image.Exif()
    exif[0x0112] = orientation
    return stored, exif.tobytes()


def exif_with_gps() -> bytes:
    exif = Image.Exif()
    exif[0x010F] = "Acme"  # Make
    exif[0x0110] = "Snapper 3000"  # Model
    exif[0x0131] = "SecretEditor 1.0"  # Software
    camera = exif.get_ifd(0x8769)
    camera[0x9003] = "2024:05:17 14:03:22"  # DateTimeOriginal
    camera[0x829A] = 1 / 250  # ExposureTime
    camera[0x8827] = 200  # ISO
    gps = exif.get_ifd(0x8825)
    gps[1] = "N"
    gps[2] = (51.0, 30.0, 26.0)
    gps[3] = "W"
    gps[4] = (0.0, 7.0, 39.0)
    return exif.tobytes()


def png_declaring(width: int, height: int) -> bytes:
    """A tiny but well-formed PNG whose header declares ``width`` x ``height`` RGB pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def animated_gif(frames: int, size: tuple[int, int] = (8, 8)) -> bytes:
    """A GIF of ``frames`` frames, each a different colour (so none is merged away)."""
    images = [Image.new("RGB", size, ((i * 37) % 256, (i * 91) % 256, (i * 53) % 256)) for i in range(frames)]
    return encode(images[0], "GIF", save_all=True, append_images=images[1:], duration=40, loop=0)


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ \x00\x00\x00\x00" + _s15(x) + _s15(y) + _s15(z)


def rgb_profile(description: str, red: tuple[float, float, float], blue: tuple[float, float, float]) -> bytes:
    """A minimal ICC v2 RGB display profile (gamma 2.2) with the given red and blue colorants
    (PCS XYZ, D50). With sRGB's blue as 'red', pure red pixels mean blue."""
    text = description.encode("ascii") + b"\x00"
    desc = b"desc\x00\x00\x00\x00" + struct.pack(">I", len(text)) + text + b"\x00" * 12 + b"\x00" * 67
    curve = b"curv\x00\x00\x00\x00" + struct.pack(">IH", 1, round(2.2 * 256)) + b"\x00\x00"
    tags = [
        (b"desc", desc),
        (b"wtpt", _xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", _xyz(*red)),
        (b"gXYZ", _xyz(0.3851, 0.7169, 0.0971)),
        (b"bXYZ", _xyz(*blue)),
        (b"rTRC", curve),
        (b"gTRC", curve),
        (b"bTRC", curve),
        (b"cprt", b"text\x00\x00\x00\x00test\x00\x00\x00\x00"),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table, body = b"", b""
    for signature, data in tags:
        padded = data + b"\x00" * (-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += padded
    size = offset + len(body)
    header = (
        struct.pack(">I", size)
        + b"\x00" * 4
        + bytes([2, 0x10, 0, 0])
        + b"mntrRGB XYZ "
        + struct.pack(">6H", 2024, 1, 1, 0, 0, 0)
        + b"acsp"
        + b"\x00" * 24
        + struct.pack(">I", 0)
        + _s15(0.9642)
        + _s15(1.0)
        + _s15(0.8249)
        + b"\x00" * 48
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + table + body


SRGB_RED = (0.4361, 0.2225, 0.0139)
SRGB_BLUE = (0.1431, 0.0606, 0.7141)


def swapped_profile() -> bytes:
    """An RGB profile whose red and blue primaries are sRGB's blue and red."""
    return rgb_profile("Swapped primaries test", red=SRGB_BLUE, blue=SRGB_RED)

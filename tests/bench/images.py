"""Deterministic, realistic test photos for the benchmark (and the sample images in events/images).

A real photo (scikit-image's sample data: public domain or CC0, see events/images/README.md) is
scaled up to camera size, then given what an upscale lacks and a camera adds: fine texture (a CC0
grass texture, soft-light blended) and sensor grain. The grain is drawn at half resolution and
interpolated up, like demosaiced sensor noise, so it is spatially correlated rather than the
per-pixel white noise no camera produces. Same inputs, same bytes: the pseudo-random grain is
seeded, nothing depends on the machine.
"""

import importlib.util
import io
import random
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops

# Bump when a recipe below changes: cached images are keyed by it.
VERSION = "photos-v2"
JPEG_QUALITY = 90  # a camera's "fine" setting
_GRAIN = 0.07  # uniform noise scaled to about +-9 levels before interpolation: a clean daylight shot
_TEXTURE = 0.3


def sample_data() -> Path:
    """scikit-image's bundled photos, found without importing scikit-image (and numpy)."""
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit(
            "the benchmark photos come from scikit-image's sample data: install tools/requirements/dev.txt"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _tile(texture: Image.Image, size: tuple[int, int]) -> Image.Image:
    tiled = Image.new("L", size)
    for top in range(0, size[1], texture.height):
        for left in range(0, size[0], texture.width):
            tiled.paste(texture, (left, top))
    return tiled


def _grain(size: tuple[int, int], seed: int) -> Image.Image:
    rng = random.Random(seed)  # noqa: S311 - reproducible grain, not a secret
    half = (max(1, size[0] // 2), max(1, size[1] // 2))
    planes = []
    for _ in range(3):
        plane = Image.frombytes("L", half, rng.randbytes(half[0] * half[1]))
        plane = plane.point(lambda v: round(128 + (v - 128) * _GRAIN))
        planes.append(plane.resize(size, Image.Resampling.BICUBIC))
    return Image.merge("RGB", planes)


@cache
def photo(name: str, size: tuple[int, int], seed: int = 1) -> Image.Image:
    """The sample photo ``name`` at ``size``, with texture and grain: an RGB image."""
    data = sample_data()
    with Image.open(data / name) as source:
        base = source.convert("RGB").resize(size, Image.Resampling.LANCZOS)
    with Image.open(data / "grass.png") as grass:
        texture = grass.convert("L")
    texture = texture.resize((texture.width * 2, texture.height * 2), Image.Resampling.BICUBIC)
    detailed = ImageChops.soft_light(base, _tile(texture, size).convert("RGB"))
    textured = Image.blend(base, detailed, _TEXTURE)
    return ImageChops.add(textured, _grain(size, seed), scale=1.0, offset=-128)


def encode(image: Image.Image, format_name: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format_name, **options)
    return buffer.getvalue()


def with_orientation(image: Image.Image, orientation: int) -> tuple[Image.Image, bytes]:
    """Pixels stored so that a viewer applying EXIF ``orientation`` shows ``image`` upright,
    and the EXIF block that says so."""
    stored = {
        1: image,
        3: image.transpose(Image.Transpose.ROTATE_180),
        6: image.transpose(Image.Transpose.ROTATE_90),
        8: image.transpose(Image.Transpose.ROTATE_270),
    }[orientation]
    exif = Image.Exif()
    exif[0x0112] = orientation
    return stored, exif.tobytes()


@dataclass(frozen=True)
class BenchImage:
    key: str
    description: str
    make: Callable[[float], bytes]  # scale (1.0 = full size) -> file bytes


def _size(megapixels_size: tuple[int, int], scale: float) -> tuple[int, int]:
    return (max(16, round(megapixels_size[0] * scale)), max(16, round(megapixels_size[1] * scale)))


def _exif6(scale: float) -> bytes:
    stored, exif = with_orientation(photo("chelsea.png", _size((4240, 2832), scale)), 6)
    return encode(stored, "JPEG", quality=JPEG_QUALITY, exif=exif)


BENCH_IMAGES: tuple[BenchImage, ...] = (
    BenchImage(
        "24mp.jpg",
        "24 MP JPEG 6000x4000 q90",
        lambda s: encode(photo("coffee.png", _size((6000, 4000), s)), "JPEG", quality=JPEG_QUALITY),
    ),
    BenchImage(
        "12mp.jpg",
        "12 MP JPEG 4240x2832 q90",
        lambda s: encode(photo("chelsea.png", _size((4240, 2832), s)), "JPEG", quality=JPEG_QUALITY),
    ),
    BenchImage(
        "12mp-progressive.jpg",
        "12 MP progressive JPEG q90",
        lambda s: encode(photo("chelsea.png", _size((4240, 2832), s)), "JPEG", quality=JPEG_QUALITY, progressive=True),
    ),
    BenchImage("12mp.png", "12 MP PNG (zlib 6)", lambda s: encode(photo("chelsea.png", _size((4240, 2832), s)), "PNG")),
    BenchImage(
        "2mp.jpg",
        "2 MP JPEG 1155x1732 q90 (portrait)",
        lambda s: encode(photo("rocket.jpg", _size((1155, 1732), s)), "JPEG", quality=JPEG_QUALITY),
    ),
    BenchImage("12mp-exif6.jpg", "12 MP JPEG stored sideways, EXIF orientation 6", _exif6),
    BenchImage(
        "small.jpg",
        "0.4 MP JPEG 800x533 q90 (smaller than every rendition)",
        lambda s: encode(photo("chelsea.png", _size((800, 533), s)), "JPEG", quality=JPEG_QUALITY),
    ),
    # The largest image the default limits allow (ImageLimits.max_pixels = 40 MP): peak memory.
    BenchImage(
        "40mp.jpg",
        "40 MP JPEG 7744x5164 q90",
        lambda s: encode(photo("coffee.png", _size((7744, 5164), s)), "JPEG", quality=JPEG_QUALITY),
    ),
    BenchImage(
        "40mp.png",
        "40 MP PNG (zlib 1)",
        lambda s: encode(photo("coffee.png", _size((7744, 5164), s)), "PNG", compress_level=1),
    ),
)


def ensure(directory: Path, scale: float = 1.0) -> dict[str, Path]:
    """Every bench image under ``directory``/VERSION[-scale]; missing ones are made once, in a
    child process, so making them (GBs of allocations) leaves the timing process's memory
    allocator as fresh as a Lambda's: the naive path's timings depend on it."""
    folder = directory / (VERSION if scale == 1.0 else f"{VERSION}-x{scale:g}")
    paths = {image.key: folder / image.key for image in BENCH_IMAGES}
    if not all(path.exists() for path in paths.values()):
        root = Path(__file__).resolve().parents[2]
        command = [sys.executable, "-m", "tests.bench.images", str(folder), str(scale)]
        subprocess.run(command, check=True, cwd=root)
    return paths


def make_all(folder: Path, scale: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for image in BENCH_IMAGES:
        path = folder / image.key
        if not path.exists():
            partial = path.with_suffix(path.suffix + ".part")
            partial.write_bytes(image.make(scale))
            partial.replace(path)


if __name__ == "__main__":
    make_all(Path(sys.argv[1]), float(sys.argv[2]))

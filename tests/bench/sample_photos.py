"""Writes the sample photos of events/images (what `make run` uploads): small, real-looking,
each exercising one path. Deterministic: rerun it after changing a recipe and commit the files.

    .venv/bin/python -m tests.bench.sample_photos
"""

from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

from tests.bench.images import JPEG_QUALITY, encode, photo, with_orientation

EVENTS_IMAGES = Path(__file__).resolve().parents[2] / "events" / "images"


def _cut_out(image: Image.Image) -> Image.Image:
    """The photo inside a soft-edged rounded frame, transparent outside (a typical PNG upload)."""
    mask = Image.new("L", image.size, 0)
    inset = image.width // 12
    ImageDraw.Draw(mask).rounded_rectangle(
        (inset, inset, image.width - inset, image.height - inset), radius=image.width // 6, fill=255
    )
    cut = image.convert("RGBA")
    cut.putalpha(mask.filter(ImageFilter.GaussianBlur(image.width / 100)))
    return cut


def main() -> None:
    EVENTS_IMAGES.mkdir(parents=True, exist_ok=True)
    files = {
        # A landscape JPEG as a phone shares it.
        "coffee-landscape.jpg": encode(photo("coffee.png", (1600, 1067)), "JPEG", quality=75),
        # A PNG with real transparency (alpha kept in WebP/AVIF, white behind JPEG).
        "astronaut-cutout.png": encode(_cut_out(photo("astronaut.png", (360, 360))), "PNG", optimize=True),
        # Stored sideways with EXIF orientation 6: a correct pipeline shows the cat upright (landscape).
        "cat-exif-orientation-6.jpg": _sideways(),
        # A portrait WebP.
        "rocket-portrait.webp": encode(photo("rocket.jpg", (720, 1080)), "WEBP", quality=72),
    }
    for name, data in files.items():
        (EVENTS_IMAGES / name).write_bytes(data)
        print(f"{name}: {len(data) / 1024:.0f} KiB")


def _sideways() -> bytes:
    stored, exif = with_orientation(photo("chelsea.png", (1200, 800)), 6)
    return encode(stored, "JPEG", quality=min(JPEG_QUALITY, 80), exif=exif)


if __name__ == "__main__":
    main()

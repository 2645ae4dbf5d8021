"""How the encoder settings in image_pipeline/imaging/encoders.py were chosen: size, encode time
and SSIM (against the resampled pixels) of each candidate, on the 24 MP bench photo.

    .venv/bin/python -m tests.bench.encoders
"""

import importlib
import io
import statistics
import time
from pathlib import Path
from typing import Any

from PIL import Image

from tests.bench import images

CANDIDATES: tuple[tuple[str, dict[str, Any]], ...] = (
    ("JPEG", {"quality": 82}),
    ("JPEG", {"quality": 82, "optimize": True}),
    ("JPEG", {"quality": 82, "optimize": True, "progressive": True}),
    ("WEBP", {"quality": 80, "method": 2}),
    ("WEBP", {"quality": 80, "method": 4}),
    ("WEBP", {"quality": 80, "method": 6}),
    ("AVIF", {"quality": 60, "speed": 6}),
    ("AVIF", {"quality": 60, "speed": 8}),
    ("AVIF", {"quality": 60, "speed": 10}),
)


def main() -> None:
    numpy: Any = importlib.import_module("numpy")
    ssim: Any = importlib.import_module("skimage.metrics").structural_similarity
    root = Path(__file__).resolve().parents[2]
    path = images.ensure(root / "out" / "bench-images")["24mp.jpg"]
    with Image.open(path) as source:
        source.draft("RGB", (3000, 2000))
        source.load()
        for side in (1024, 2048):
            resized = source.resize((side, round(side * source.height / source.width)), Image.Resampling.LANCZOS)
            reference = numpy.asarray(resized)
            for format_name, options in CANDIDATES:
                times, data = [], b""
                for _ in range(3):
                    buffer = io.BytesIO()
                    start = time.perf_counter()
                    resized.save(buffer, format_name, **options)
                    times.append((time.perf_counter() - start) * 1000)
                    data = buffer.getvalue()
                decoded = numpy.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
                score = ssim(reference, decoded, channel_axis=2, data_range=255)
                print(
                    f"{side:>5} {format_name:<5} {options!s:<55} {statistics.median(times):>7.1f} ms "
                    f"{len(data) / 1024:>7.1f} KiB  SSIM {score:.4f}"
                )


if __name__ == "__main__":
    main()

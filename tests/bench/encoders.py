"""How the encoder settings in image_pipeline/imaging/encoders.py are chosen: bytes, CPU time and
SSIM (against the resampled pixels) of each candidate, Pillow's encoders and libvips' (mozjpeg,
libwebp, libheif/aom), on the 24 MP and 12 MP bench photos at every output size the pipeline makes.

    .venv/bin/python -m tests.bench.encoders

For each format and size it prints every candidate, marks the ones on the bytes / SSIM / CPU
frontier, and names the cheapest candidate that is no bigger and no worse (SSIM) than the
current setting: the current one stays unless another beats it on all three.
"""

import importlib
import io
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image

from image_pipeline.imaging.encoders import encode
from tests.bench import images

Encoder = Callable[[Image.Image], bytes]


def _pillow(format_name: str, **options: Any) -> Encoder:
    def run(pixels: Image.Image) -> bytes:
        buffer = io.BytesIO()
        pixels.save(buffer, format_name, **options)
        return buffer.getvalue()

    return run


def _vips(suffix: str, **options: Any) -> Encoder:
    pyvips: Any = importlib.import_module("pyvips")

    def run(pixels: Image.Image) -> bytes:
        image = pyvips.Image.new_from_memory(pixels.tobytes(), pixels.width, pixels.height, 3, "uchar")
        saved: bytes = image.write_to_buffer(suffix, keep="none", **options)
        return saved

    return run


def candidates(large: bool) -> dict[str, list[tuple[str, Encoder]]]:
    jpeg_ours = "pillow q82 opt+prog" if large else "pillow q82"
    return {
        "JPEG": [
            ("current", lambda p: encode(p, "JPEG")),
            (jpeg_ours, _pillow("JPEG", quality=82, subsampling="4:2:0", optimize=large, progressive=large)),
            ("pillow q82 opt", _pillow("JPEG", quality=82, subsampling="4:2:0", optimize=True)),
            ("pillow q80 opt+prog", _pillow("JPEG", quality=80, subsampling="4:2:0", optimize=True, progressive=True)),
            ("vips(mozjpeg) q82", _vips(".jpg", Q=82, subsample_mode="on", optimize_coding=True)),
            ("vips(mozjpeg) q82 prog", _vips(".jpg", Q=82, subsample_mode="on", optimize_coding=True, interlace=True)),
            (
                "vips(mozjpeg) q80 trellis",
                _vips(".jpg", Q=80, subsample_mode="on", optimize_coding=True, trellis_quant=True),
            ),
            (
                "vips(mozjpeg) q78 trellis+scans",
                _vips(
                    ".jpg",
                    Q=78,
                    subsample_mode="on",
                    optimize_coding=True,
                    trellis_quant=True,
                    optimize_scans=True,
                    interlace=True,
                    quant_table=3,
                ),
            ),
        ],
        "WEBP": [
            ("current", lambda p: encode(p, "WEBP")),
            ("pillow q80 m3", _pillow("WEBP", quality=80, method=3)),
            ("pillow q80 m4", _pillow("WEBP", quality=80, method=4)),
            ("pillow q78 m4", _pillow("WEBP", quality=78, method=4)),
            ("vips q80 effort 4", _vips(".webp", Q=80, effort=4)),
            ("vips q80 effort 3", _vips(".webp", Q=80, effort=3)),
        ],
        "AVIF": [
            ("current", lambda p: encode(p, "AVIF")),
            ("pillow q60 s8", _pillow("AVIF", quality=60, speed=8, subsampling="4:2:0")),
            ("pillow q60 s9", _pillow("AVIF", quality=60, speed=9, subsampling="4:2:0")),
            ("pillow q58 s8", _pillow("AVIF", quality=58, speed=8, subsampling="4:2:0")),
            ("vips(aom) q50 effort 1", _vips(".avif", Q=50, effort=1, compression="av1", subsample_mode="on")),
            ("vips(aom) q55 effort 1", _vips(".avif", Q=55, effort=1, compression="av1", subsample_mode="on")),
        ],
    }


def measure(encoder: Encoder, pixels: Image.Image, reference: Any, ssim: Any, numpy: Any) -> dict[str, float]:
    cpu, data = [], b""
    for _ in range(3):
        start = time.process_time()
        data = encoder(pixels)
        cpu.append((time.process_time() - start) * 1000)
    decoded = numpy.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    score = ssim(reference, decoded, channel_axis=2, data_range=255)
    return {"cpu_ms": statistics.median(cpu), "bytes": len(data), "ssim": round(float(score), 4)}


def main() -> None:
    numpy: Any = importlib.import_module("numpy")
    ssim: Any = importlib.import_module("skimage.metrics").structural_similarity
    root = Path(__file__).resolve().parents[2]
    paths = images.ensure(root / "out" / "bench-images")
    for key in ("24mp.jpg", "12mp.jpg"):
        with Image.open(paths[key]) as source:
            source.draft("RGB", (source.width // 2, source.height // 2))
            source.load()
            for side in (256, 512, 1024, 2048):
                resized = source.resize((side, round(side * source.height / source.width)), Image.Resampling.LANCZOS)
                reference = numpy.asarray(resized)
                large = resized.width * resized.height > 1_000_000
                for format_name, entries in candidates(large).items():
                    if side in (256, 512) and format_name != "JPEG":
                        continue  # thumbnails and previews are JPEG only
                    rows = {name: measure(enc, resized, reference, ssim, numpy) for name, enc in entries}
                    _print(key, side, format_name, rows)


def _frontier(rows: dict[str, dict[str, float]]) -> set[str]:
    def dominated(a: dict[str, float]) -> bool:
        return any(
            b is not a
            and b["bytes"] <= a["bytes"]
            and b["ssim"] >= a["ssim"]
            and b["cpu_ms"] <= a["cpu_ms"]
            and (b["bytes"], -b["ssim"], b["cpu_ms"]) != (a["bytes"], -a["ssim"], a["cpu_ms"])
            for b in rows.values()
        )

    return {name for name, row in rows.items() if not dominated(row)}


def _print(key: str, side: int, format_name: str, rows: dict[str, dict[str, float]]) -> None:
    current = rows["current"]
    frontier = _frontier(rows)
    allowed = [n for n, r in rows.items() if r["bytes"] <= current["bytes"] and r["ssim"] >= current["ssim"]]
    choice = min(allowed, key=lambda n: rows[n]["cpu_ms"])
    print(f"\n{key} -> {side} px {format_name}: choose {choice!r}")
    for name, row in rows.items():
        mark = "*" if name in frontier else " "
        print(f"  {mark} {name:<34}{row['cpu_ms']:>8.1f} ms CPU{row['bytes'] / 1024:>9.1f} KiB  SSIM {row['ssim']:.4f}")


if __name__ == "__main__":
    main()

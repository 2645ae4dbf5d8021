"""The image engine against the naive baseline, in one process, on realistic photos.

    .venv/bin/python -m tests.bench            # writes out/bench.json, prints a table, exit 1 on a miss

naive  = what the AWS S3-thumbnail tutorial does: full decode, LANCZOS resize, JPEG save.
ours   = ``render`` with the pipeline's own spec (thumbnail or w1024-jpeg).
floor  = a JPEG decoded at 1/8 scale and nothing else: no resize can start before that.
Cases are interleaved (naive, ours, floor, then ours, floor, naive, ...) and reported as
medians, so a busy machine slows all three alike. Peak memory is measured in fresh child processes.
"""

import argparse
import gc
import io
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from PIL import Image, ImageChops, ImageStat

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "layers" / "shared"
if str(SHARED) not in sys.path:  # run as a script or module: the shared layer, as Lambda sees it
    sys.path.insert(0, str(SHARED))

from image_pipeline.imaging import THUMBNAIL, RenditionSpec, render  # noqa: E402
from tests.bench import images  # noqa: E402
from tests.bench.baseline import W1024, floor, naive, ours  # noqa: E402


@dataclass(frozen=True)
class Case:
    name: str
    input: str
    spec: RenditionSpec
    min_speedup: float | None = None
    max_floor_ratio: float | None = None


CASES = (
    Case("24MP->256", "24mp.jpg", THUMBNAIL, min_speedup=5.5, max_floor_ratio=1.15),
    Case("24MP->1024", "24mp.jpg", W1024, min_speedup=4.2),
    Case("12MP->1024", "12mp.jpg", W1024, min_speedup=3.0),
    Case("progressive 12MP->1024", "12mp-progressive.jpg", W1024),
    Case("PNG 12MP->1024", "12mp.png", W1024, min_speedup=2.0),
    Case("2MP->256", "2mp.jpg", THUMBNAIL),
    Case("EXIF-6 12MP->1024", "12mp-exif6.jpg", W1024),
)
MEMORY_CASE = "24mp.jpg"
MAX_EXTRA_MB = 30.0


def _timed(run: Callable[[], object]) -> float:
    gc.collect()
    start = time.perf_counter()
    run()
    return (time.perf_counter() - start) * 1000


def time_case(case: Case, data: bytes, repeats: int) -> dict[str, Any]:
    is_jpeg = data[:3] == b"\xff\xd8\xff"
    runs: dict[str, Callable[[], object]] = {
        "naive": lambda: naive(data, case.spec.max_side),
        "ours": lambda: ours(data, case.spec),
    }
    if is_jpeg:
        runs["floor"] = lambda: floor(data)
    for run in runs.values():  # warm-up: first-call costs (imports, caches) are not the steady state
        run()
    samples: dict[str, list[float]] = {name: [] for name in runs}
    names = list(runs)
    for repeat in range(repeats):
        # Rotate who goes first, so none always runs in the wake of the naive path's 100+ MB.
        shift = repeat % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(_timed(runs[name]))
    medians = {name: statistics.median(values) for name, values in samples.items()}
    return {
        "name": case.name,
        "input": case.input,
        "width": case.spec.max_side,
        "naive_ms": round(medians["naive"], 1),
        "ours_ms": round(medians["ours"], 1),
        "floor_ms": round(medians["floor"], 1) if "floor" in medians else None,
        "speedup": round(medians["naive"] / medians["ours"], 2),
    }


# Peak RSS of the child alone. Linux keeps ru_maxrss across exec, so a child forked from this
# (large) process would report the parent's peak: VmHWM is the child's own high-water mark.
_CHILD = """
import resource, sys
{imports}
data = open(sys.argv[1], "rb").read() if {run} else b""
{call}
try:
    status = open("/proc/self/status").read()
    print(int(status.split("VmHWM:")[1].split()[0]) / 1024)
except (OSError, IndexError):
    print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
"""


def _peak_mb(imports: str, call: str, path: Path, *, run: bool) -> float:
    code = _CHILD.format(imports=imports, call=call if run else "", run=run)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SHARED), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True, env=env, cwd=ROOT
    )
    return float(done.stdout.strip().splitlines()[-1])


def memory(path: Path) -> dict[str, float]:
    """Peak RSS of a fresh process doing one 24MP->1024, each against an import-only twin."""
    naive_imports = "from tests.bench.baseline import naive"
    ours_imports = "from tests.bench.baseline import ours, W1024"
    # The import-only twin of ours loads libvips too: the path uses it, so its import is baseline.
    ours_baseline = ours_imports + "; from image_pipeline.imaging import vips; vips.available()"
    results = {
        "naive_baseline_mb": _peak_mb(naive_imports, "", path, run=False),
        "naive_mb": _peak_mb(naive_imports, "naive(data, 1024)", path, run=True),
        "baseline_mb": _peak_mb(ours_baseline, "", path, run=False),
        "ours_mb": _peak_mb(ours_imports, "ours(data, W1024)", path, run=True),
    }
    return {key: round(value, 1) for key, value in results.items()}


def orientation_ok(data: bytes) -> bool:
    """The EXIF-6 image comes out landscape, and it is the upright picture (not a mirror of it)."""
    made = render(data, [W1024])[0]
    with Image.open(io.BytesIO(made.data)) as out, Image.open(io.BytesIO(data)) as stored:
        stored.draft("RGB", (stored.width // 4, stored.height // 4))
        upright = stored.convert("RGB").transpose(Image.Transpose.ROTATE_270).resize(out.size)
        wrong = stored.convert("RGB").transpose(Image.Transpose.ROTATE_90).resize(out.size)
        right_error = sum(ImageStat.Stat(ImageChops.difference(out.convert("RGB"), upright)).mean)
        wrong_error = sum(ImageStat.Stat(ImageChops.difference(out.convert("RGB"), wrong)).mean)
    return made.width > made.height and right_error < wrong_error / 2


def evaluate(report: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """(target, measured, passed) for every target."""
    checks = []
    by_name = {row["name"]: row for row in report["cases"]}
    for case in CASES:
        row = by_name[case.name]
        if case.min_speedup is not None:
            checks.append(
                (f"{case.name} >= {case.min_speedup}x naive", f"{row['speedup']}x", row["speedup"] >= case.min_speedup)
            )
        if case.max_floor_ratio is not None and row["floor_ms"]:
            ratio = row["ours_ms"] / row["floor_ms"]
            checks.append(
                (f"{case.name} <= {case.max_floor_ratio}x floor", f"{ratio:.2f}x", ratio <= case.max_floor_ratio)
            )
    mem = report["memory"]
    extra = mem["ours_mb"] - mem["baseline_mb"]
    checks.append((f"24MP->1024 extra memory <= {MAX_EXTRA_MB:g} MB", f"{extra:.1f} MB", extra <= MAX_EXTRA_MB))
    checks.append(("EXIF-6 comes out upright", str(report["orientation_ok"]), bool(report["orientation_ok"])))
    return checks


def table(report: dict[str, Any], checks: Sequence[tuple[str, str, bool]]) -> str:
    lines = [f"{'case':<24}{'input':<22}{'naive ms':>10}{'ours ms':>10}{'floor ms':>10}{'speedup':>9}"]
    for row in report["cases"]:
        floor_ms = "-" if row["floor_ms"] is None else f"{row['floor_ms']:.1f}"
        lines.append(
            f"{row['name']:<24}{row['input']:<22}{row['naive_ms']:>10.1f}{row['ours_ms']:>10.1f}"
            f"{floor_ms:>10}{row['speedup']:>8.2f}x"
        )
    mem = report["memory"]
    lines.append(
        f"\npeak RSS 24MP->1024: naive {mem['naive_mb']} MB (imports {mem['naive_baseline_mb']} MB), "
        f"ours {mem['ours_mb']} MB (imports {mem['baseline_mb']} MB)\n"
    )
    lines.extend(f"{'PASS' if passed else 'FAIL'}  {target:<44}{measured}" for target, measured, passed in checks)
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9, help="timed runs per case (median reported)")
    parser.add_argument("--scale", type=float, default=1.0, help="image side scale (the smoke test uses tiny ones)")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "bench.json")
    parser.add_argument("--images", type=Path, default=ROOT / "out" / "bench-images")
    args = parser.parse_args(argv)

    paths = images.ensure(args.images, args.scale)
    report: dict[str, Any] = {
        "version": images.VERSION,
        "scale": args.scale,
        "repeats": args.repeats,
        "cases": [time_case(case, paths[case.input].read_bytes(), args.repeats) for case in CASES],
        "memory": memory(paths[MEMORY_CASE]),
        "orientation_ok": orientation_ok(paths["12mp-exif6.jpg"].read_bytes()),
    }
    checks = evaluate(report)
    report["targets"] = [{"target": t, "measured": m, "passed": p} for t, m, p in checks]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    print(table(report, checks))
    print(f"\nwritten: {args.out}")
    return 0 if all(passed for _, _, passed in checks) else 1

"""`make load`: a burst of uploads through the deployed local stack, cold then warm, against the
raw in-process time of the same jobs on the same images, measured in the same run.

    python -m tests.bench.load [--count 40] [--concurrency 8] [--poll 1]

Each of ``concurrency`` clients does what a browser would: POST /images, the presigned upload,
then GET /images/{id} every ``poll`` seconds until the image is final. The cold burst runs first
(call it right after a deploy: `make load` restarts the engine and deploys), the warm one next.
Raw = the three jobs run one image after another in this process (the functions' own code).
Prints throughput, upload->done p50/p95/max and API errors; writes out/load.json; exits 1 when a
target is missed (a benchmark, not a test).
"""

import argparse
import json
import statistics
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "layers" / "shared"
if str(SHARED) not in sys.path:
    sys.path.insert(0, str(SHARED))

from tests.bench import images  # noqa: E402
from tools.client import FINAL_STATUSES, ApiError, PipelineClient  # noqa: E402

MAX_COLD_OVER_WARM = 1.5
MAX_WARM_OVER_RAW = 1.2
# Photo-like 2 MP JPEGs: four sample photos, each with its own grain seed, so no two are alike.
_SOURCES = ("coffee.png", "chelsea.png", "rocket.jpg", "astronaut.png")
_SIZE = (1732, 1155)
IMAGES_VERSION = "load-v1"


def load_images(count: int, folder: Path) -> list[Path]:
    folder = folder / IMAGES_VERSION
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"photo-{index:03d}.jpg"
        if not path.exists():
            size = _SIZE if index % 3 else (_SIZE[1], _SIZE[0])  # every third one is portrait
            photo = images.photo(_SOURCES[index % len(_SOURCES)], size, seed=1000 + index)
            path.write_bytes(images.encode(photo, "JPEG", quality=images.JPEG_QUALITY))
        paths.append(path)
    return paths


@dataclass
class Upload:
    file: str
    status: str = "NOT_SENT"
    upload_done_s: float = 0.0  # since the burst started
    final_s: float | None = None  # first poll that saw a final status
    polls: int = 0
    error: str | None = None

    @property
    def latency_s(self) -> float | None:
        return None if self.final_s is None else self.final_s - self.upload_done_s


@dataclass
class Burst:
    name: str
    uploads: list[Upload] = field(default_factory=list)
    wall_s: float = 0.0
    api_5xx: int = 0
    api_timeouts: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count_error(self, error: Exception) -> None:
        with self._lock:
            if isinstance(error, ApiError) and error.status >= 500:
                self.api_5xx += 1
            elif isinstance(error, OSError):
                self.api_timeouts += 1

    def summary(self) -> dict[str, Any]:
        latencies = sorted(u.latency_s for u in self.uploads if u.latency_s is not None)
        statuses: dict[str, int] = {}
        for upload in self.uploads:
            statuses[upload.status] = statuses.get(upload.status, 0) + 1
        return {
            "name": self.name,
            "images": len(self.uploads),
            "wall_s": round(self.wall_s, 2),
            "images_per_s": round(len(self.uploads) / self.wall_s, 3) if self.wall_s else 0,
            "upload_to_done_s": {
                "p50": round(statistics.median(latencies), 2) if latencies else None,
                "p95": round(latencies[min(len(latencies) - 1, round(0.95 * (len(latencies) - 1)))], 2)
                if latencies
                else None,
                "max": round(latencies[-1], 2) if latencies else None,
            },
            "statuses": statuses,
            "api_5xx": self.api_5xx,
            "api_timeouts": self.api_timeouts,
            "uploads": [asdict(u) for u in self.uploads],
        }


def _call(burst: Burst, attempts: int, call: Any, *args: Any) -> Any:
    """One API call, retried like a client would on a 5xx or a timeout (each counted)."""
    for attempt in range(attempts):
        try:
            return call(*args)
        except (ApiError, OSError) as error:
            if isinstance(error, ApiError) and error.status < 500:
                raise
            burst.count_error(error)
            if attempt == attempts - 1:
                raise
            time.sleep(1)
    return None


def _one(client: PipelineClient, burst: Burst, path: Path, started: float, poll: float, timeout: float) -> Upload:
    upload = Upload(file=path.name)
    try:
        created = _call(burst, 3, client.create_image, path.name, "image/jpeg")
        _call(burst, 3, client.upload, created, path.read_bytes(), path.name, "image/jpeg")
        upload.upload_done_s = time.monotonic() - started
        upload.status = "UPLOADED"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(poll)
            upload.polls += 1
            try:
                status = client.get_image(created["imageId"])["status"]
            except (ApiError, OSError) as error:
                if isinstance(error, ApiError) and error.status < 500:
                    raise
                burst.count_error(error)
                continue
            upload.status = status
            if status in FINAL_STATUSES:
                upload.final_s = time.monotonic() - started
                break
    except (ApiError, OSError) as error:
        upload.error = str(error)[:300]
    return upload


def burst(client: PipelineClient, name: str, paths: Sequence[Path], concurrency: int, poll: float) -> Burst:
    result = Burst(name)
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        result.uploads = list(pool.map(lambda p: _one(client, result, p, started, poll, 600), paths))
    result.wall_s = time.monotonic() - started
    return result


def raw(paths: Sequence[Path]) -> dict[str, float]:
    """Every job on every image, one image after another, in this process (recognition with the
    bundled model, as the local stack deploys it)."""
    from image_pipeline.aws.recognizers import recognition_operations  # noqa: PLC0415
    from image_pipeline.imaging import ImageLimits  # noqa: PLC0415
    from image_pipeline.processing import Source  # noqa: PLC0415

    operations = recognition_operations("onnx", 0.8).values()
    limits = ImageLimits()
    datas = [path.read_bytes() for path in paths]
    for operation in operations:  # first-call costs (imports, the model) are not the work
        operation(Source(datas[0]), limits)
    wall, cpu = time.perf_counter(), time.process_time()
    for data in datas:
        for operation in operations:
            operation(Source(data), limits)
    return {"wall_s": round(time.perf_counter() - wall, 2), "cpu_s": round(time.process_time() - cpu, 2)}


def evaluate(report: dict[str, Any]) -> list[tuple[str, str, bool]]:
    cold, warm, raw_ = report["cold"], report["warm"], report["raw"]
    checks = []
    for phase in (cold, warm):
        complete = phase["statuses"].get("COMPLETE", 0)
        checks.append(
            (f"{phase['name']}: every image COMPLETE", f"{complete}/{phase['images']}", complete == phase["images"])
        )
        errors = phase["api_5xx"] + phase["api_timeouts"]
        checks.append(
            (
                f"{phase['name']}: no API 5xx or timeout",
                f"{phase['api_5xx']} 5xx, {phase['api_timeouts']} timeouts",
                errors == 0,
            )
        )
    ratio = cold["wall_s"] / warm["wall_s"]
    checks.append((f"cold burst <= {MAX_COLD_OVER_WARM}x warm", f"{ratio:.2f}x", ratio <= MAX_COLD_OVER_WARM))
    ratio = warm["wall_s"] / raw_["wall_s"]
    checks.append(
        (f"warm burst <= {MAX_WARM_OVER_RAW}x raw in-process wall", f"{ratio:.2f}x", ratio <= MAX_WARM_OVER_RAW)
    )
    return checks


def _print(report: dict[str, Any], checks: Sequence[tuple[str, str, bool]]) -> None:
    print(f"{report['count']} images, {report['concurrency']} clients, polling every {report['poll_s']:g} s")
    print(f"{'phase':<8}{'wall s':>8}{'img/s':>8}{'p50 s':>8}{'p95 s':>8}{'max s':>8}{'5xx':>6}{'timeouts':>10}")
    for key in ("cold", "warm"):
        phase = report[key]
        latency = phase["upload_to_done_s"]
        print(
            f"{key:<8}{phase['wall_s']:>8.1f}{phase['images_per_s']:>8.2f}{latency['p50'] or 0:>8.1f}"
            f"{latency['p95'] or 0:>8.1f}{latency['max'] or 0:>8.1f}{phase['api_5xx']:>6}{phase['api_timeouts']:>10}"
        )
    print(
        f"{'raw':<8}{report['raw']['wall_s']:>8.1f}{report['count'] / report['raw']['wall_s']:>8.2f}"
        f"   (in process, one image after another; CPU {report['raw']['cpu_s']:.1f} s)"
    )
    print()
    for target, measured, met in checks:
        print(f"{'met   ' if met else 'MISSED'}  {target:<46}{measured}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--poll", type=float, default=1.0, help="seconds between a client's status polls")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "load.json")
    parser.add_argument("--images", type=Path, default=ROOT / "out" / "load-images")
    args = parser.parse_args(argv)

    from tools.stack import local_stack  # noqa: PLC0415 - needs the engine's environment

    paths = load_images(args.count, args.images)
    stack = local_stack()
    client = PipelineClient(stack.api_url, stack.api_key, timeout=30)
    print(f"cold burst: {args.count} images through {stack.api_url} ...", file=sys.stderr)
    cold = burst(client, "cold", paths, args.concurrency, args.poll)
    print("warm burst ...", file=sys.stderr)
    warm = burst(client, "warm", paths, args.concurrency, args.poll)
    print("the same jobs in process ...", file=sys.stderr)
    report: dict[str, Any] = {
        "count": args.count,
        "concurrency": args.concurrency,
        "poll_s": args.poll,
        "cold": cold.summary(),
        "warm": warm.summary(),
        "raw": raw(paths),
    }
    checks = evaluate(report)
    report["targets"] = [{"target": t, "measured": m, "met": ok} for t, m, ok in checks]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2) + "\n")
    _print(report, checks)
    print(f"\nwritten: {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0 if all(ok for _, _, ok in checks) else 1


if __name__ == "__main__":
    raise SystemExit(main())

"""`make bench-reprocess`: make reprocess over >= 500 stored images on the local stack, against the
raw in-process time of the same job on the same images, measured in the same run.

    python -m tests.bench.reprocess [--count 500] [--size 1280x853]

Seeds ``count`` photo-like JPEGs under a prefix of their own (written straight to the bucket, as
any client may; the live pipeline processes them), changes the renditions' specs the way a team
does (tests/spec_change.py: a build with one more width, deployed), then runs the dry run and the
ReprocessWorkflow over that prefix. Raw = the renditions job at the new specs, one image after
another, in this process. Prints and writes out/bench-reprocess.json: throughput of both, their
ratio, the engine's spread (items in flight, RenditionWorker's concurrency), and whether every
image was rendered exactly once (the one target: a benchmark, not a test).
"""

import argparse
import importlib.util
import json
import sys
import time
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "layers" / "shared"
if str(SHARED) not in sys.path:
    sys.path.insert(0, str(SHARED))

import boto3  # noqa: E402

from tests import spec_change  # noqa: E402
from tests.bench import images  # noqa: E402

_SOURCES = ("coffee.png", "chelsea.png", "rocket.jpg", "astronaut.png")
IMAGES_VERSION = "reprocess-v1"


def stored_images(count: int, size: tuple[int, int], folder: Path) -> list[Path]:
    folder = folder / f"{IMAGES_VERSION}-{size[0]}x{size[1]}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        path = folder / f"photo-{index:04d}.jpg"
        if not path.exists():
            shape = size if index % 3 else (size[1], size[0])  # every third one is portrait
            # images.photo caches what it makes: 500 of them would hold GBs
            picture = images.photo.__wrapped__(_SOURCES[index % len(_SOURCES)], shape, seed=5000 + index)
            path.write_bytes(images.encode(picture, "JPEG", quality=images.JPEG_QUALITY))
        paths.append(path)
    return paths


def seed(bucket: str, prefix: str, paths: Sequence[Path]) -> dict[str, str]:
    """Write every image under ``prefix``; key -> image id."""
    from image_pipeline.keys import image_id_for_key  # noqa: PLC0415

    s3 = boto3.client("s3")
    keys = {f"{prefix}{path.name}": path for path in paths}
    with ThreadPoolExecutor(max_workers=4) as pool:
        list(pool.map(lambda kv: s3.put_object(Bucket=bucket, Key=kv[0], Body=kv[1].read_bytes()), keys.items()))
    return {key: image_id_for_key(key) for key in keys}


def seed_in_waves(
    bucket: str, table: str, prefix: str, paths: Sequence[Path], wave: int, stall: timedelta
) -> tuple[dict[str, str], dict[str, int]]:
    """Seed ``wave`` images at a time, each wave settled before the next: the engine runs every
    upload's four functions at once, and hundreds of cold workers at once time each other out."""
    stored: dict[str, str] = {}
    statuses: dict[str, int] = {}
    for start in range(0, len(paths), wave):
        batch = seed(bucket, prefix, paths[start : start + wave])
        for status, n in wait_settled(table, list(batch.values()), stall, timeout=1800).items():
            statuses[status] = statuses.get(status, 0) + n
        stored |= batch
        print(f"  {len(stored)}/{len(paths)} stored: {statuses}", file=sys.stderr)
    return stored, statuses


def wait_settled(table: str, image_ids: Sequence[str], stall: timedelta, timeout: float) -> dict[str, int]:
    """Poll the image log until every image is COMPLETE or REJECTED; their statuses."""
    from image_pipeline.aws.dynamodb import DynamoImageLog  # noqa: PLC0415
    from image_pipeline.pairing import derive_state  # noqa: PLC0415

    log, deadline, statuses = DynamoImageLog(table), time.monotonic() + timeout, {}
    while True:
        with ThreadPoolExecutor(max_workers=8) as pool:
            statuses = dict(
                zip(
                    image_ids,
                    pool.map(lambda i: derive_state(log.events(i), stall).status.value, image_ids),
                    strict=True,
                )
            )
        counts: dict[str, int] = {}
        for status in statuses.values():
            counts[status] = counts.get(status, 0) + 1
        if counts.get("COMPLETE", 0) + counts.get("REJECTED", 0) == len(image_ids) or time.monotonic() > deadline:
            return counts
        time.sleep(5)


def made_once(table: str, image_ids: Sequence[str], spec: str) -> dict[str, int]:
    """How many answers at ``spec`` each image has: 1 each, when every image was made exactly once."""
    from image_pipeline.aws.dynamodb import DynamoImageLog  # noqa: PLC0415
    from image_pipeline.catalogue import EventType  # noqa: PLC0415

    log = DynamoImageLog(table)

    def answers(image_id: str) -> int:
        return sum(
            1
            for e in log.events(image_id)
            if e.type is EventType.RENDITIONS_CREATED and e.data.get("specVersion") == spec
        )

    with ThreadPoolExecutor(max_workers=8) as pool:
        found = list(pool.map(answers, image_ids))
    spread: dict[str, int] = {}
    for n in found:
        spread[str(n)] = spread.get(str(n), 0) + 1
    return spread


def raw(paths: Sequence[Path], build: spec_change.Build) -> dict[str, float]:
    """The renditions job at the build's specs, one image after another, in this process."""
    from image_pipeline.imaging import ImageLimits, render  # noqa: PLC0415

    loaded = importlib.util.spec_from_file_location("bench_specs", build.path / spec_change.SPECS)
    assert loaded is not None
    assert loaded.loader is not None
    module = importlib.util.module_from_spec(loaded)
    loaded.loader.exec_module(module)
    specs, limits = module.JOB_SPECS["renditions"], ImageLimits()
    datas = [path.read_bytes() for path in paths]
    render(datas[0], specs, limits)  # first-call costs (imports, codecs) are not the work
    wall, cpu = time.perf_counter(), time.process_time()
    for data in datas:
        render(data, specs, limits)
    return {"wall_s": round(time.perf_counter() - wall, 2), "cpu_s": round(time.process_time() - cpu, 2)}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.reprocess", description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--size", default="1280x853", help="WxH of the photos")
    parser.add_argument("--wave", type=int, default=20, help="images seeded at a time")
    parser.add_argument("--out", type=Path, default=ROOT / "out" / "bench-reprocess.json")
    parser.add_argument("--images", type=Path, default=ROOT / "out" / "reprocess-images")
    args = parser.parse_args(argv)
    width, height = (int(n) for n in args.size.split("x"))

    from tools import reprocess  # noqa: PLC0415 - needs the engine's environment
    from tools.engine import LocalEngine  # noqa: PLC0415

    stacks = reprocess.Stacks.resolve()
    outputs = stacks.app.outputs
    stall = timedelta(seconds=int(stacks.app.parameters.get("StallTimeoutSeconds", "300")))
    paths = stored_images(args.count, (width, height), args.images)
    prefix = f"uploads/bench-{uuid.uuid4().hex[:8]}/"
    print(f"seeding {len(paths)} images under {prefix} (the live pipeline processes each) ...", file=sys.stderr)
    started = time.monotonic()
    stored, seeded = seed_in_waves(
        outputs["ImagesBucketName"], outputs["ImagesTableName"], prefix, paths, args.wave, stall
    )
    seeding_s = time.monotonic() - started
    print(f"seeded in {seeding_s:.0f} s: {seeded}; deploying a build with one more width ...", file=sys.stderr)
    build = spec_change.with_a_new_width()
    engine = LocalEngine()
    spec_change.deploy(build, stacks.app.name, {**engine.client_env(), "PORT": str(engine.port)})
    stacks = reprocess.Stacks.resolve()  # the reprocess stack's parameters, as deployed again
    estimate = reprocess.dry_run(
        stacks, sample=args.count, prefix=prefix, out=lambda line: print(line, file=sys.stderr)
    )
    started = time.monotonic()
    run = reprocess.run(stacks, prefix, out=lambda line: print(line, file=sys.stderr))
    run_s = time.monotonic() - started
    spread = made_once(outputs["ImagesTableName"], list(stored.values()), build.spec_version)
    print("the same job in process ...", file=sys.stderr)
    in_process = raw(paths, build)
    concurrency, bound = reprocess.renders_at_once(stacks)
    engine_rate, raw_rate = len(paths) / run_s, len(paths) / in_process["wall_s"]
    report: dict[str, Any] = {
        "images": len(paths),
        "size": args.size,
        "seeding": {"wall_s": round(seeding_s, 1), "statuses": seeded},
        "specVersion": build.spec_version,
        "dryRun": estimate.get("estimate"),
        "run": {
            "wall_s": round(run_s, 1),
            "images_per_s": round(engine_rate, 2),
            "items": run["items"],
            "outcomes": run["outcomes"],
        },
        "raw": {**in_process, "images_per_s": round(raw_rate, 2)},
        "engine_over_raw": round(engine_rate / raw_rate, 3),
        "renders_at_once": {"limit": concurrency, "bound": bound},
        "answersPerImage": spread,
    }
    met = spread == {"1": len(paths)} and run["status"] == "SUCCEEDED"
    report["targets"] = [
        {"target": "every image rendered exactly once at the new specs", "measured": spread, "met": met}
    ]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"{len(paths)} stored images ({args.size}), seeded through the live pipeline in {seeding_s:.0f} s")
    print(f"make reprocess:  {run_s:7.1f} s  {engine_rate:6.2f} img/s  ({concurrency} renders at once: {bound})")
    print(f"raw in process:  {in_process['wall_s']:7.1f} s  {raw_rate:6.2f} img/s  (CPU {in_process['cpu_s']:.1f} s)")
    print(f"ratio: the engine runs at {engine_rate / raw_rate:.2f}x the in-process throughput")
    print(f"{'met   ' if met else 'MISSED'}  every image rendered exactly once at the new specs: {spread}")
    print(f"written: {args.out.relative_to(ROOT) if args.out.is_relative_to(ROOT) else args.out}")
    return 0 if met else 1


if __name__ == "__main__":
    raise SystemExit(main())

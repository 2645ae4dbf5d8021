"""Recognition in `make bench`: what RecognizeFunction costs with each backend, against baselines
measured in the same run.

- layers: the unzipped size of RecognizeFunction's code and layers in the local build (this
  machine's CPU), against Lambda's limit of 250 MB (262,144,000 bytes) for a function and its layers.
- init: a fresh interpreter that sees only the built code, layers and the runtime's SDK imports
  the handler, builds the backend and (onnx) scores a first image, which loads the model;
  against the same interpreter importing boto3 and making one client (coldstart's baseline).
- CPU per image: each backend's ``recognize`` interleaved, on the same photo, with the model
  package's own path (``Classifier.score_bytes``: a full decode, then its resize: the baseline
  onnx must beat) and with the analysis job (for scale: the cheapest job that decodes an
  upload). Rekognition's work is remote: what is measured is the function's own (the header
  read, botocore signing, sending and parsing the three calls, answered from memory; a WebP's
  JPEG rendition).
- peak memory: onnx on the largest image the limits allow, each in a fresh process.
- cost: Lambda's cost per 1,000 images with the onnx backend (CPU stretched to the vCPU share of
  RecognizeFunction's MemorySize) beside Rekognition's list price for its three calls.
"""

import json
import os
import statistics
import subprocess
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from PIL import Image

from image_pipeline.aws.rekognition import RekognitionRecognizer
from image_pipeline.imaging import ImageLimits
from image_pipeline.offline.open_nsfw import OpenNsfwModeration, classifier
from image_pipeline.ports import ObjectLocation, UploadImage
from image_pipeline.processing import OPERATIONS, Source
from image_pipeline.recognition import RecognitionOff, Recognizer
from tests import template
from tests.bench import coldstart
from tests.bench.measure import interleaved
from tests.rekognition import FACES, LABELS, MODERATION, served_client
from tools.stack import machine_architecture

if TYPE_CHECKING:
    from collections.abc import Callable

FUNCTION: Final = "RecognizeFunction"
LAMBDA_UNZIPPED_LIMIT: Final = 262_144_000  # 250 MB, code and layers together
# Rekognition Image, Group 2 APIs (DetectLabels, DetectModerationLabels, DetectFaces): list price
# per image for the first million a month (us-east-1); three calls per upload.
REKOGNITION_USD_PER_IMAGE_PER_CALL: Final = 0.001
REKOGNITION_CALLS: Final = 3
CPU_CASES: Final = ("12mp.jpg", "2mp.jpg", "small.jpg", "12mp.webp")
LARGEST: Final = ("40mp.jpg", "40mp.png")
# Targets.
MAX_LAYERS_SHARE: Final = 0.95  # of the limit: room for the code and a patch release's growth
MAX_ONNX_INIT_RATIO: Final = 8.0  # handler import + model load + first image, against a bare boto3 client
# One image's moderation against the package's own path: a DCT-scaled decode must pay off on a
# camera photo, and cost nothing extra on a small one.
MAX_ONNX_CPU_RATIO: Final = {"12mp.jpg": 0.6, "small.jpg": 1.2}
MAX_REKOGNITION_CPU_RATIO: Final = 0.25  # the function's own work when Rekognition reads S3
MEMORY_HEADROOM: Final = 0.25


def _size(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _not_built(build: Path) -> str | None:
    if not (build / FUNCTION).is_dir():
        return f"no {FUNCTION} in {build.name}: run make build-local"
    return None


def layer_sizes(build: Path) -> dict[str, Any]:
    if problem := _not_built(build):
        return {"skipped": problem}
    layers = [layer["Ref"] for layer in template.function_properties(FUNCTION)["Layers"]]
    sizes = {FUNCTION: _size(build / FUNCTION)} | {name: _size(build / name) for name in layers}
    return {"architecture": machine_architecture(), "bytes": sizes, "total": sum(sizes.values())}


_INIT_PROBE = """
import importlib, json, sys, time
sys.path[:0] = sys.argv[1].split("\\n")
backend, image = sys.argv[2], sys.argv[3]
start = time.perf_counter()
handler = importlib.import_module("handler")  # builds the backend: Rekognition's client
imported = time.perf_counter()
from image_pipeline.imaging import ImageLimits
from image_pipeline.processing import Source
if backend == "onnx":
    from image_pipeline.offline.open_nsfw import classifier
    classifier()
built = time.perf_counter()
if backend != "rekognition":  # Rekognition's first call is a network round trip, not init
    handler.recognition.operations["recognition"](Source(open(image, "rb").read()), ImageLimits())
first = time.perf_counter()
print(json.dumps({"import_ms": (imported - start) * 1000, "backend_ms": (built - imported) * 1000,
                  "first_image_ms": (first - built) * 1000, "total_ms": (first - start) * 1000}))
"""


def init_times(build: Path, image: Path, repeats: int) -> dict[str, Any]:
    if problem := _not_built(build):
        return {"skipped": problem}
    sdk = str(coldstart._runtime_sdk(coldstart.ROOT / "out" / "lambda-runtime"))
    layers = [layer["Ref"] for layer in template.function_properties(FUNCTION)["Layers"]]
    allowed = "\n".join([str(build / FUNCTION), *(str(build / name / "python") for name in layers), sdk])
    base = {"AWS_DEFAULT_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    base["PATH"] = os.environ.get("PATH", "")
    result: dict[str, Any] = {"boto3_client_ms": coldstart._init_ms([sdk], "boto3", base, repeats)}
    backends = ["rekognition", "onnx", "off"]
    samples: dict[str, list[dict[str, float]]] = {backend: [] for backend in backends}
    for repeat in range(repeats):  # interleaved, each round starting elsewhere: a busy moment hits all alike
        for backend in backends[repeat % 3 :] + backends[: repeat % 3]:
            env = {**base, **template.function_environment(FUNCTION), "RECOGNITION_BACKEND": backend}
            done = subprocess.run(
                [sys.executable, "-I", "-S", "-B", "-c", _INIT_PROBE, allowed, backend, str(image)],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            samples[backend].append(json.loads(done.stdout.strip().splitlines()[-1]))
    for backend, runs in samples.items():
        result[backend] = {key: round(statistics.median(run[key] for run in runs), 1) for key in runs[0]}
    return result


def _webp(source: Path, target: Path) -> Path:
    if not target.exists():
        with Image.open(source) as image:
            image.save(target, "WEBP", quality=80)
    return target


def _stubbed_rekognition() -> Recognizer:
    client, _ = served_client(
        {
            "DetectLabels": [(200, LABELS)],
            "DetectModerationLabels": [(200, MODERATION)],
            "DetectFaces": [(200, FACES)],
        }
    )
    return RekognitionRecognizer(client)


def cpu_per_image(paths: dict[str, Path], repeats: int) -> dict[str, dict[str, Any]]:
    paths = {**paths, "12mp.webp": _webp(paths["12mp.jpg"], paths["12mp.jpg"].with_suffix(".webp"))}
    limits = ImageLimits()
    backends: dict[str, Recognizer] = {
        "onnx": OpenNsfwModeration(),
        "rekognition": _stubbed_rekognition(),
        "off": RecognitionOff(),
    }
    location = ObjectLocation("bench-bucket", "uploads/bench.jpg", "etag")
    result: dict[str, dict[str, Any]] = {}
    for case in CPU_CASES:
        data = paths[case].read_bytes()
        upload = UploadImage(data, location)
        runs: dict[str, Callable[[], object]] = {
            "analysis job": partial(OPERATIONS["analysis"], Source(data), limits),
            "package path": partial(classifier().score_bytes, data),
        }
        runs |= {name: partial(recognizer.recognize, upload, limits) for name, recognizer in backends.items()}
        result[case] = {name: timing.cpu_ms for name, timing in interleaved(runs, repeats).items()}
        result[case]["rekognition input"] = backends["rekognition"].recognize(upload, limits).input
    return result


_MEMORY_PROBE = """
import sys
from image_pipeline.imaging import ImageLimits
from image_pipeline.offline.open_nsfw import OpenNsfwModeration, classifier
from image_pipeline.ports import UploadImage
classifier()
if sys.argv[2] == "onnx":
    OpenNsfwModeration().recognize(UploadImage(open(sys.argv[1], "rb").read()), ImageLimits())
print(int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024)
"""


def peak_memory(paths: dict[str, Path]) -> dict[str, Any]:
    if not Path("/proc/self/status").exists():
        return {"skipped": "peak memory needs /proc (Linux)"}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(coldstart.SHARED), str(coldstart.ROOT)])}
    result: dict[str, Any] = {}
    for key in LARGEST:
        peaks = {}
        for what in ("model loaded", "onnx"):
            done = subprocess.run(
                [sys.executable, "-c", _MEMORY_PROBE, str(paths[key]), what],
                capture_output=True,
                text=True,
                check=True,
                env=env,
            )
            peaks[what] = round(float(done.stdout.strip().splitlines()[-1]), 1)
        result[key] = peaks
    return result


def measure(build: Path, paths: dict[str, Path], repeats: int) -> dict[str, Any]:
    memory = int(template.function_properties(FUNCTION)["MemorySize"])
    cpu = cpu_per_image(paths, repeats)
    cost = coldstart.lambda_cost({"onnx": cpu["12mp.jpg"]["onnx"]}, {"onnx": memory})["onnx"]
    return {
        "memory_mb": memory,
        "layers": layer_sizes(build),
        "init": init_times(build, paths["small.jpg"], max(3, repeats // 2)),
        "cpu_ms": cpu,
        "peak_memory": peak_memory(paths),
        "cost_per_1000_usd": {
            "onnx (Lambda CPU, 12 MP)": cost,
            "rekognition (list price, 3 calls)": round(
                1000 * REKOGNITION_CALLS * REKOGNITION_USD_PER_IMAGE_PER_CALL, 2
            ),
        },
    }


def evaluate(report: dict[str, Any]) -> list[tuple[str, str, bool]]:
    checks: list[tuple[str, str, bool]] = []
    layers = report["layers"]
    if "skipped" in layers:
        checks.append(("RecognizeFunction layers measured", layers["skipped"], False))
    else:
        limit = MAX_LAYERS_SHARE * LAMBDA_UNZIPPED_LIMIT
        checks.append(
            (
                f"{FUNCTION} code + layers <= {MAX_LAYERS_SHARE:.0%} of 250 MB ({layers['architecture']})",
                f"{layers['total'] / 1e6:.1f} MB = {layers['total'] / LAMBDA_UNZIPPED_LIMIT:.0%}",
                layers["total"] <= limit,
            )
        )
    init = report["init"]
    if "skipped" in init:
        checks.append(("recognition init measured", init["skipped"], False))
    else:
        ratio = init["onnx"]["total_ms"] / init["boto3_client_ms"]
        checks.append(
            (
                f"onnx init + model + first image <= {MAX_ONNX_INIT_RATIO:g}x boto3 client",
                f"{ratio:.2f}x",
                ratio <= MAX_ONNX_INIT_RATIO,
            )
        )
    for case, most in MAX_ONNX_CPU_RATIO.items():
        row = report["cpu_ms"][case]
        ratio = row["onnx"] / row["package path"]
        checks.append((f"onnx CPU on {case} <= {most:g}x the package's own path", f"{ratio:.2f}x", ratio <= most))
    for case in ("12mp.jpg", "2mp.jpg"):
        row = report["cpu_ms"][case]
        ratio = row["rekognition"] / row["analysis job"]
        checks.append(
            (
                f"rekognition (s3-object) function CPU on {case} <= {MAX_REKOGNITION_CPU_RATIO:g}x analysis",
                f"{ratio:.2f}x",
                ratio <= MAX_REKOGNITION_CPU_RATIO,
            )
        )
    peaks = report["peak_memory"]
    if "skipped" in peaks:
        checks.append(("recognition peak memory measured", peaks["skipped"], False))
    else:
        worst = max(row["onnx"] for row in peaks.values())
        limit = report["memory_mb"] * (1 - MEMORY_HEADROOM)
        checks.append(
            (
                f"onnx peak on 40 MP <= {limit:.0f} MB ({FUNCTION} {report['memory_mb']} MB)",
                f"{worst:.0f} MB",
                worst <= limit,
            )
        )
    return checks


def table(report: dict[str, Any]) -> str:
    lines = ["\nrecognition (RecognizeFunction)"]
    layers = report["layers"]
    if "skipped" in layers:
        lines.append(f"  layers: skipped: {layers['skipped']}")
    else:
        sizes = ", ".join(f"{name} {size / 1e6:.1f}" for name, size in layers["bytes"].items())
        lines.append(f"  unzipped MB ({layers['architecture']}): {sizes}; total {layers['total'] / 1e6:.1f} of 262.1")
    init = report["init"]
    if "skipped" in init:
        lines.append(f"  init: skipped: {init['skipped']}")
    else:
        lines.append(f"  init, median ms (boto3 + one client {init['boto3_client_ms']:.0f}):")
        for backend in ("rekognition", "onnx", "off"):
            row = init[backend]
            lines.append(
                f"    {backend:<12} import {row['import_ms']:>6.0f}  backend {row['backend_ms']:>6.0f}"
                f"  first image {row['first_image_ms']:>6.0f}  total {row['total_ms']:>6.0f}"
            )
    lines.append("  CPU ms per image (median); baselines: the model package's own path, and the analysis job")
    for case, row in report["cpu_ms"].items():
        cells = "  ".join(f"{name} {value:.1f}" for name, value in row.items() if isinstance(value, float))
        lines.append(f"    {case:<12} {cells}  (rekognition sent: {row['rekognition input']})")
    peaks = report["peak_memory"]
    if "skipped" not in peaks:
        for key, row in peaks.items():
            lines.append(
                f"  peak RSS MB on {key}: model loaded {row['model loaded']:.0f}, onnx recognize {row['onnx']:.0f}"
            )
    cost = ", ".join(f"{name} ${value:.4f}" for name, value in report["cost_per_1000_usd"].items())
    lines.append(f"  $ per 1,000 images: {cost}")
    return "\n".join(lines)

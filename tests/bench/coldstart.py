"""Cold start, memory and cost: what each function's ``MemorySize`` in template.yaml rests on.

- init: importing each built handler (``sam build`` output) in a fresh interpreter that sees only
  its code, its layers and the runtime's SDK (as tests/integration/test_isolation.py does),
  against the same interpreter importing boto3 and making one client.
- peak memory: each image job in a fresh process on the largest image the limits allow
  (``ImageLimits.max_pixels``), as peak RSS and as the part above importing the same modules.
- cost: each job's CPU time stretched to the CPU share its function's memory buys (Lambda gives
  one vCPU per 1,769 MB), billed at that memory (arm64 price; requests included).
"""

import importlib.metadata
import importlib.util
import json
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

from image_pipeline.catalogue import JOBS
from image_pipeline.imaging import ImageLimits
from image_pipeline.processing import OPERATIONS, Source
from tests import template
from tests.bench.measure import interleaved
from tools.build import copy_runtime_sdk

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT / "layers" / "shared"
# The image jobs (their operations are processing's). Recognition's depends on its backend:
# tests/bench/recognition.py measures it per backend.
JOB_FUNCTIONS = {job.name: job.function for job in JOBS if job.name in OPERATIONS}
LARGEST = ("40mp.jpg", "40mp.png")  # ImageLimits.max_pixels, a JPEG and a PNG
MB_PER_VCPU = 1769
ARM64_USD_PER_GB_SECOND = 0.0000133334
USD_PER_REQUEST = 0.20 / 1_000_000
# Peak RSS of a job on the largest allowed image must leave this share of its MemorySize free.
MEMORY_HEADROOM = 0.25
# An image function's init may cost this many times a bare boto3 client (they load Powertools,
# pydantic and Pillow; libvips only when a PNG needs it).
MAX_INIT_RATIO = 4.0


def has_pyvips() -> bool:
    return importlib.util.find_spec("pyvips") is not None


def job_memory() -> dict[str, int]:
    """Each job's function's MemorySize, from template.yaml."""
    return {job: int(template.function_properties(fn)["MemorySize"]) for job, fn in JOB_FUNCTIONS.items()}


def job_cpu(data: bytes, repeats: int) -> dict[str, float]:
    limits = ImageLimits()
    runs = {name: (lambda name=name: OPERATIONS[name](Source(data), limits)) for name in JOB_FUNCTIONS}
    return {name: timing.cpu_ms for name, timing in interleaved(runs, repeats).items()}


def lambda_cost(cpu_ms: dict[str, float], memory: dict[str, int]) -> dict[str, float]:
    """USD per 1,000 uploads, per job and in total (estimate: CPU-bound work, no I/O waits)."""
    costs = {}
    for job, mb in memory.items():
        vcpus = mb / MB_PER_VCPU
        seconds = cpu_ms[job] / 1000 / vcpus
        costs[job] = round(1000 * (seconds * mb / 1024 * ARM64_USD_PER_GB_SECOND + USD_PER_REQUEST), 5)
    costs["total"] = round(sum(costs.values()), 5)
    return costs


def _runtime_sdk(folder: Path) -> Path:
    """A folder holding only the runtime's SDK packages, copied from this venv (once)."""
    marker = folder / ".complete"
    if not marker.exists():
        shutil.rmtree(folder, ignore_errors=True)
        copy_runtime_sdk(folder)
        marker.touch()
    return folder


_INIT_PROBE = """
import importlib, sys, time
sys.path[:0] = sys.argv[1].split("\\n")
start = time.perf_counter()
if sys.argv[2] == "boto3":
    import boto3
    boto3.client("s3")
else:
    importlib.import_module(sys.argv[2])
print((time.perf_counter() - start) * 1000)
"""


def _without_bytecode(build: Path, layer: str) -> Path:
    """A copy of a built layer without its .pyc: what `sam build` alone ships."""
    target = ROOT / "out" / "layers-without-bytecode" / layer
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(build / layer / "python", target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def _init_ms(allowed: list[str], module: str, env: dict[str, str], repeats: int) -> float:
    """Median ms to import ``module`` in a fresh interpreter that sees only ``allowed`` and writes
    no .pyc (Lambda's /opt is read-only: a layer without bytecode compiles at every cold start)."""
    samples = []
    for _ in range(repeats):
        done = subprocess.run(
            [sys.executable, "-I", "-S", "-B", "-c", _INIT_PROBE, "\n".join(allowed), module],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        )
        samples.append(float(done.stdout.strip().splitlines()[-1]))
    return round(statistics.median(samples), 1)


def init_times(build: Path, repeats: int) -> dict[str, Any]:
    if not (build / "template.yaml").exists():
        return {"skipped": f"no sam build output in {build.name}: run make build-local"}
    sdk = str(_runtime_sdk(ROOT / "out" / "lambda-runtime"))
    base_env = {
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "PATH": os.environ.get("PATH", ""),
    }
    result: dict[str, Any] = {"boto3_client_ms": _init_ms([sdk], "boto3", base_env, repeats), "functions": {}}
    bare: dict[str, Path] = {}
    for logical_id in template.function_ids():
        properties = template.function_properties(logical_id)
        names = [layer["Ref"] for layer in properties["Layers"]]
        for name in names:
            if name not in bare:
                bare[name] = _without_bytecode(build, name)
        module = properties["Handler"].rsplit(".", 1)[0]
        env = {**base_env, **template.function_environment(logical_id)}
        code = str(build / logical_id)
        shipped = [code, *(str(build / name / "python") for name in names), sdk]
        compiled_here = [code, *(str(bare[name]) for name in names), sdk]
        result["functions"][logical_id] = {
            "init_ms": _init_ms(shipped, module, env, repeats),
            "init_without_bytecode_ms": _init_ms(compiled_here, module, env, repeats),
            "memory_mb": int(properties["MemorySize"]),
        }
    return result


_MEMORY_PROBE = """
import sys
from image_pipeline.imaging import ImageLimits, vips
from image_pipeline.processing import OPERATIONS, Source
vips.available()
data = open(sys.argv[1], "rb").read()
operation = OPERATIONS.get(sys.argv[2])
if operation is not None:
    operation(Source(data), ImageLimits())
print(int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024)
"""


def _peak_mb(path: Path, job: str) -> float:
    # VmHWM is the child's own high-water mark (ru_maxrss would carry this process's over exec).
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SHARED), str(ROOT)])}
    done = subprocess.run(
        [sys.executable, "-c", _MEMORY_PROBE, str(path), job], capture_output=True, text=True, check=True, env=env
    )
    return round(float(done.stdout.strip().splitlines()[-1]), 1)


def peak_memory(paths: dict[str, Path]) -> dict[str, Any]:
    if not Path("/proc/self/status").exists():
        return {"skipped": "peak memory needs /proc (Linux)"}
    result: dict[str, Any] = {}
    for key in LARGEST:
        baseline = _peak_mb(paths[key], "imports only")
        result[key] = {"imports_mb": baseline} | {job: _peak_mb(paths[key], job) for job in JOB_FUNCTIONS}
    return result


def measure(build: Path, paths: dict[str, Path], repeats: int) -> dict[str, Any]:
    return {
        "init": init_times(build, max(3, repeats // 2)),
        "peak_memory": peak_memory(paths),
        "memory_mb": job_memory(),
    }


def evaluate(report: dict[str, Any]) -> list[tuple[str, str, bool]]:
    checks: list[tuple[str, str, bool]] = []
    init = report["init"]
    if "skipped" in init:
        checks.append(("init times measured", init["skipped"], False))
    else:
        bare = init["boto3_client_ms"]
        for logical_id, row in init["functions"].items():
            ratio = row["init_ms"] / bare
            checks.append(
                (f"{logical_id} init <= {MAX_INIT_RATIO:g}x boto3 client", f"{ratio:.2f}x", ratio <= MAX_INIT_RATIO)
            )
    peaks = report["peak_memory"]
    if "skipped" in peaks:
        checks.append(("peak memory measured", peaks["skipped"], False))
        return checks
    for job, mb in report["memory_mb"].items():
        worst = max(peaks[key][job] for key in peaks)
        limit = mb * (1 - MEMORY_HEADROOM)
        checks.append(
            (f"{job} peak on 40 MP <= {limit:.0f} MB ({JOB_FUNCTIONS[job]} {mb} MB)", f"{worst:.0f} MB", worst <= limit)
        )
    return checks


def table(report: dict[str, Any]) -> str:
    lines = ["\ninit (import the handler with only its code, layers and the runtime SDK), median ms"]
    init = report["init"]
    if "skipped" in init:
        lines.append(f"  skipped: {init['skipped']}")
    else:
        lines.append(f"  {'':<24}{'ms':>8}{'vs boto3':>10}{'no .pyc ms':>12}")
        lines.append(f"  {'boto3 + one client':<24}{init['boto3_client_ms']:>8.0f}")
        for logical_id, row in init["functions"].items():
            ratio = row["init_ms"] / init["boto3_client_ms"]
            lines.append(
                f"  {logical_id:<24}{row['init_ms']:>8.0f}{ratio:>9.2f}x{row['init_without_bytecode_ms']:>12.0f}"
            )
    lines.append("peak RSS per job on the largest allowed image (MB; imports alone first)")
    peaks = report["peak_memory"]
    if "skipped" in peaks:
        lines.append(f"  skipped: {peaks['skipped']}")
    else:
        for key, row in peaks.items():
            lines.append(f"  {key:<24}" + "  ".join(f"{name} {value:.0f}" for name, value in row.items()))
    return "\n".join(lines)


if __name__ == "__main__":
    print(json.dumps(job_memory()))

"""The benchmark stays runnable and its verdicts can go both ways: the whole of `make bench` on tiny
images (timings not asserted), and its target checks on reports made up to pass and to fail."""

import copy
import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

from tests.bench import bench, load, recognition

needs_skimage = pytest.mark.skipif(
    importlib.util.find_spec("skimage") is None, reason="scikit-image (dev.txt) is not installed"
)


@needs_skimage
def test_the_benchmark_runs_end_to_end_on_tiny_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given tiny versions of the bench photos
    out = tmp_path / "bench.json"
    # When the benchmark runs once per case
    code = bench.main(
        [
            "--scale", "0.04", "--repeats", "1", "--out", str(out),
            "--images", str(tmp_path / "images"), "--build", str(tmp_path / "no-build"),
        ]
    )  # fmt: skip
    # Then it wrote the report with every case, path and target, and printed one verdict per target
    report = json.loads(out.read_text())
    assert [case["name"] for case in report["cases"]] == [case.name for case in bench.CASES]
    for case in report["cases"]:
        paths = case["paths"]
        assert {"naive", "pillow", "ours"} <= set(paths)
        assert ("floor" in paths) == (not case["input"].endswith(".png"))
        for name, values in paths.items():
            assert values["wall_ms"] > 0
            assert values["cpu_ms"] >= 0
            if name != "floor":
                assert values["bytes"] > 0
                assert -1 <= values["ssim"] <= 1
    assert [row["name"] for row in report["uploads"]] == [name for name, _ in bench.UPLOADS]
    assert report["orientation_ok"] is True
    printed = capsys.readouterr().out
    verdicts = [line for line in printed.splitlines() if line.startswith(("met   ", "MISSED"))]
    assert len(verdicts) == len(report["targets"])
    # Without a sam build the init times cannot be measured: that target is missed, so the run fails
    assert any(not t["met"] and t["target"] == "init times measured" for t in report["targets"])
    assert code == 1


def _path(wall: float, cpu: float, size: int = 1000, ssim: float = 0.99) -> dict[str, Any]:
    return {"wall_ms": wall, "cpu_ms": cpu, "bytes": size, "ssim": ssim}


def _passing_report() -> dict[str, Any]:
    cases = [
        {
            "name": case.name,
            "input": case.input,
            "paths": {
                "naive": _path(1000, 1000),
                "pillow": _path(20, 20),
                "vips": _path(30, 30),
                "ours": _path(10, 10),
                "floor": {"wall_ms": 10, "cpu_ms": 10},
            },
        }
        for case in bench.CASES
    ]
    uploads = [
        {
            "name": name,
            "encodes": 9,
            "decodes": 3,
            "distinct_outputs": 9,
            "outputs": 10,
            "paths": {
                "ours": {"wall_ms": 100, "cpu_ms": 105},
                "floor": {"wall_ms": 100, "cpu_ms": 100},
                "decodes": {"wall_ms": 5, "cpu_ms": 5},
            },
        }
        for name, _ in bench.UPLOADS
    ]
    coldstart = {
        "init": {
            "boto3_client_ms": 100,
            "functions": {"ThumbnailFunction": {"init_ms": 200, "init_without_bytecode_ms": 300, "memory_mb": 1024}},
        },
        "peak_memory": {"40mp.jpg": {"imports_mb": 50, "thumbnail": 100, "renditions": 300, "analysis": 100}},
        "memory_mb": {"thumbnail": 1024, "renditions": 2048, "analysis": 1024},
    }
    init = {"import_ms": 300, "backend_ms": 400, "first_image_ms": 300, "total_ms": 1000}
    recognized = {
        "memory_mb": 1024,
        "layers": {"architecture": "x86_64", "bytes": {"RecognitionLayer": 139_000_000}, "total": 227_000_000},
        "init": {"boto3_client_ms": 250, "rekognition": init, "onnx": init, "off": init},
        "cpu_ms": {
            case: {"analysis job": 25.0, "package path": 90.0, "onnx": 40.0, "rekognition": 2.0, "off": 0.0}
            for case in recognition.CPU_CASES
        },
        "peak_memory": {"40mp.jpg": {"model loaded": 138, "onnx": 184}, "40mp.png": {"model loaded": 138, "onnx": 314}},
        "cost_per_1000_usd": {"onnx": 0.001, "rekognition": 3.0},
    }
    return {
        "cases": cases,
        "uploads": uploads,
        "orientation_ok": True,
        "coldstart": coldstart,
        "recognition": recognized,
    }


def test_a_report_that_meets_every_target_passes() -> None:
    checks = bench.evaluate(_passing_report())
    assert checks
    assert [target for target, _, met in checks if not met] == []


@pytest.mark.parametrize(
    ("change", "missed"),
    [
        (lambda r: r["cases"][0]["paths"]["pillow"].update(cpu_ms=9), "24MP->256: CPU <= best alternative"),
        (lambda r: r["cases"][0]["paths"]["ours"].update(ssim=0.95), "24MP->256: SSIM"),
        (lambda r: r["cases"][0]["paths"]["ours"].update(cpu_ms=12), "24MP->256: CPU <= 1.1x"),
        (lambda r: r["uploads"][0]["paths"]["ours"].update(cpu_ms=110), "upload 12MP JPEG: CPU <= 1.08x encode floor"),
        (lambda r: r["uploads"][-1].update(encodes=10), "upload small JPEG: one encode"),
        (lambda r: r.update(orientation_ok=False), "EXIF-6"),
        (lambda r: r["coldstart"]["peak_memory"]["40mp.jpg"].update(renditions=1800), "renditions peak"),
        (lambda r: r["coldstart"]["init"]["functions"]["ThumbnailFunction"].update(init_ms=900), "ThumbnailFunction"),
        (lambda r: r["recognition"]["layers"].update(total=250_000_000), "RecognizeFunction code + layers"),
        (lambda r: r["recognition"]["init"]["onnx"].update(total_ms=2100), "onnx init"),
        (lambda r: r["recognition"]["cpu_ms"]["12mp.jpg"].update(onnx=55.0), "onnx CPU on 12mp.jpg"),
        (lambda r: r["recognition"]["cpu_ms"]["small.jpg"].update(onnx=110.0), "onnx CPU on small.jpg"),
        (lambda r: r["recognition"]["cpu_ms"]["2mp.jpg"].update(rekognition=7.0), "rekognition (s3-object)"),
        (lambda r: r["recognition"]["peak_memory"]["40mp.png"].update(onnx=800), "onnx peak"),
    ],
)
def test_a_report_that_misses_a_target_fails_that_target(change: Any, missed: str) -> None:
    report = copy.deepcopy(_passing_report())
    change(report)
    failed = [target for target, _, met in bench.evaluate(report) if not met]
    assert len(failed) == 1
    assert failed[0].startswith(missed)


def _phase(name: str, wall_s: float, complete: int = 40, api_5xx: int = 0) -> dict[str, Any]:
    return {
        "name": name,
        "images": 40,
        "wall_s": wall_s,
        "statuses": {"COMPLETE": complete},
        "api_5xx": api_5xx,
        "api_timeouts": 0,
    }


@pytest.mark.parametrize(
    ("cold", "warm", "raw_s", "missed"),
    [
        (_phase("cold", 60), _phase("warm", 50), 45, []),
        (_phase("cold", 80), _phase("warm", 50), 45, ["cold burst <= 1.5x warm"]),
        (_phase("cold", 60), _phase("warm", 50), 40, ["warm burst <= 1.2x raw in-process wall"]),
        (_phase("cold", 60, api_5xx=1), _phase("warm", 50), 45, ["cold: no API 5xx or timeout"]),
        (_phase("cold", 60), _phase("warm", 50, complete=39), 45, ["warm: every image COMPLETE"]),
    ],
)
def test_the_load_run_names_each_missed_target(
    cold: dict[str, Any], warm: dict[str, Any], raw_s: float, missed: list[str]
) -> None:
    checks = load.evaluate({"cold": cold, "warm": warm, "raw": {"wall_s": raw_s, "cpu_s": raw_s}})
    assert [target for target, _, met in checks if not met] == missed

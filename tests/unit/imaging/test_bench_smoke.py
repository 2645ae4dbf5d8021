"""The benchmark stays runnable: the whole of `make bench` on tiny images, timings not asserted."""

import importlib.util
import json
from pathlib import Path

import pytest

from tests.bench import bench


@pytest.mark.skipif(importlib.util.find_spec("skimage") is None, reason="scikit-image (dev.txt) is not installed")
def test_the_benchmark_runs_end_to_end_on_tiny_images(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given tiny versions of the bench photos
    out = tmp_path / "bench.json"
    # When the benchmark runs once per case
    bench.main(["--scale", "0.04", "--repeats", "1", "--out", str(out), "--images", str(tmp_path / "images")])
    # Then it wrote the report with every case and target, and printed the table
    report = json.loads(out.read_text())
    assert [case["name"] for case in report["cases"]] == [case.name for case in bench.CASES]
    for case in report["cases"]:
        assert case["naive_ms"] > 0
        assert case["ours_ms"] > 0
        assert (case["floor_ms"] is None) == case["input"].endswith(".png")
    assert set(report["memory"]) >= {"baseline_mb", "naive_mb", "ours_mb"}
    assert report["orientation_ok"] is True
    assert {t["target"].split(" ")[0] for t in report["targets"]} >= {"24MP->256", "PNG", "EXIF-6"}
    printed = capsys.readouterr().out
    assert "PASS" in printed or "FAIL" in printed

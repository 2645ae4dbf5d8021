"""What `make run` shows of recognition: one cell per image in the terminal, a section per image in
the report, and the thumbnail of a withheld image never downloaded."""

from pathlib import Path
from typing import Any

import pytest

from tools.report import render_report
from tools.run import Result, _download_outputs, recognition_summary

PASSED = {
    "backend": "rekognition",
    "labels": [{"name": "Dog", "confidence": 0.99, "parents": ["Animal"]}, {"name": "Animal", "confidence": 0.98}],
    "faces": [{"box": {"left": 0.1, "top": 0.1, "width": 0.2, "height": 0.2}, "confidence": 0.99}],
    "moderation": {"flagged": False, "score": 0.012, "threshold": 0.8, "labels": []},
}
ONNX = {
    "backend": "onnx",
    "labels": None,
    "faces": None,
    "moderation": {
        "flagged": False,
        "score": 0.0054,
        "threshold": 0.8,
        "labels": [{"name": "NSFW", "confidence": 0.0054}],
    },
}
FLAGGED = {
    "backend": "onnx",
    "moderation": {
        "flagged": True,
        "score": 0.0054,
        "threshold": 0.001,
        "labels": [{"name": "NSFW", "confidence": 0.0054}],
    },
}
OFF = {
    "backend": "off",
    "labels": None,
    "faces": None,
    "moderation": {"flagged": False, "score": None, "threshold": 0.8},
}


@pytest.mark.parametrize(
    ("recognition", "cell"),
    [
        (PASSED, "rekognition passed 0.012 Dog Animal"),
        (ONNX, "onnx passed 0.005"),
        (FLAGGED, "onnx FLAGGED 0.005 NSFW"),
        (OFF, "off unchecked"),
        (None, "-"),
    ],
)
def test_the_terminal_names_the_backend_the_verdict_and_the_top_labels(
    recognition: dict[str, Any] | None, cell: str
) -> None:
    assert recognition_summary(recognition) == cell


def _result(recognition: dict[str, Any], withheld: str | None) -> dict[str, Any]:
    output = {"name": "thumbnail", "key": "outputs/x/1/thumbnail.jpg", "format": "JPEG", "width": 256, "height": 171}
    return {
        "file": "photo.jpg",
        "imageId": "x",
        "status": "REJECTED" if withheld else "COMPLETE",
        "recognition": recognition,
        "outputs": {"thumbnail": {**output, "bytes": 9000, **({"withheld": withheld} if withheld else {})}},
    }


def test_the_report_shows_each_images_recognition_and_what_was_withheld() -> None:
    page = render_report([_result(PASSED, None), _result(ONNX, None), _result(FLAGGED, "moderation")], "http://api")
    assert "Dog 99%" in page
    assert "not available from this backend" in page  # onnx: no labels, no faces
    assert "flagged: withheld" in page
    assert "NSFW 1%" in page
    assert "thumbnail withheld (moderation)" in page


def test_a_withheld_output_is_not_downloaded(tmp_path: Path) -> None:
    result = Result(file="photo.jpg", image_id="x")
    result.image = {
        "outputs": {"thumbnail": {"key": "outputs/x/1/thumbnail.jpg", "url": None, "withheld": "moderation"}}
    }
    _download_outputs(result, tmp_path)  # no link: nothing fetched, nothing kept
    assert result.assets == {}

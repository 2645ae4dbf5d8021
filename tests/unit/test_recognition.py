"""Recognition's domain: the moderation verdict at its threshold, what "not available" means, boxes
inside the picture, and the one operation that answers an upload with ImageRecognized data or a
moderation rejection."""

import math
from typing import Any

import pytest

from image_pipeline import contracts
from image_pipeline.events import EventType, PipelineEvent
from image_pipeline.imaging import ImageLimits, ImageRejected
from image_pipeline.ports import UploadImage
from image_pipeline.recognition import (
    Box,
    Face,
    Findings,
    Label,
    ModerationLabel,
    ModerationThreshold,
    RecognitionOff,
    recognize,
)
from image_pipeline.settings import RecognizeSettings, SettingsError
from tests.fakes import CannedRecognizer

IMAGE = "3f9a2c1e5b7d4e8f9a0b1c2d3e4f5a6b"
EPSILON = 1e-6


def _findings(*moderation: float, backend: str = "rekognition") -> Findings:
    return Findings(
        backend=backend,
        labels=(Label("Dog", 0.97, ("Animal", "Pet")),),
        faces=(Face(Box(0.1, 0.2, 0.3, 0.4), 0.99),),
        moderation=tuple(ModerationLabel(f"label {i}", c) for i, c in enumerate(moderation)),
    )


def _as_event(data: dict[str, Any], kind: EventType) -> PipelineEvent:
    return PipelineEvent.new(kind, image_id=IMAGE, producer="RecognizeFunction", causation_id=f"{IMAGE}@1", data=data)


# ---------------------------------------------------------------- the threshold
@pytest.mark.parametrize(
    ("confidence", "flagged"),
    [(0.7 - EPSILON, False), (0.7, True), (0.7 + EPSILON, True)],
    ids=["just-below", "at", "just-above"],
)
def test_a_label_flags_the_image_from_the_threshold_on(confidence: float, flagged: bool) -> None:
    # Given a threshold of 0.7 and one moderation label around it
    verdict = ModerationThreshold(0.7).judge(_findings(0.1, confidence))
    # Then the image is flagged from 0.7 on, by that label only, and the score is the highest one
    assert verdict.flagged is flagged
    assert [label.confidence for label in verdict.labels] == ([confidence] if flagged else [])
    assert verdict.score == round(confidence, 4)


@pytest.mark.parametrize("value", [0.0, 1.0, 0.5])
def test_the_threshold_takes_every_fraction_from_0_to_1(value: float) -> None:
    assert ModerationThreshold(value).value == value


@pytest.mark.parametrize("value", [-EPSILON, 1 + EPSILON, math.nan, math.inf, True])
def test_a_threshold_outside_0_to_1_is_refused(value: float) -> None:
    with pytest.raises(ValueError, match="ModerationThreshold must be a number from 0 to 1"):
        ModerationThreshold(value)


def test_a_threshold_of_1_flags_only_certainty_and_0_flags_any_reported_label() -> None:
    assert not ModerationThreshold(1.0).judge(_findings(1 - EPSILON)).flagged
    assert ModerationThreshold(1.0).judge(_findings(1.0)).flagged
    assert ModerationThreshold(0.0).judge(_findings(0.0)).flagged
    # ...but nothing reported is nothing to flag, whatever the threshold
    assert not ModerationThreshold(0.0).judge(_findings()).flagged


def test_backends_are_asked_for_every_label_that_could_reach_the_threshold() -> None:
    # Rekognition reports from 50 % by default: a lower threshold must lower what it reports
    assert ModerationThreshold(0.3).reporting_floor == 0.3
    assert ModerationThreshold(0.8).reporting_floor == 0.5


def test_no_moderation_from_a_backend_is_no_score_and_no_flag() -> None:
    # Given the backend that is off
    findings = RecognitionOff().recognize(UploadImage(b"anything"), ImageLimits())
    verdict = ModerationThreshold(0.0).judge(findings)
    # Then nothing is flagged and the score is not available (None), not zero
    assert (verdict.flagged, verdict.score, verdict.labels) == (False, None, ())
    assert (findings.labels, findings.faces, findings.moderation) == (None, None, None)


def test_an_empty_moderation_report_scores_zero() -> None:
    # The backend looked and found nothing: a score of 0, which a threshold of 0 does not flag
    verdict = ModerationThreshold(0.0).judge(_findings())
    assert (verdict.flagged, verdict.score) == (False, 0.0)


# ---------------------------------------------------------------- findings and boxes
@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ((0.1, 0.2, 0.3, 0.4), Box(0.1, 0.2, 0.3, 0.4)),
        ((-0.05, 0.9, 0.25, 0.2), Box(0.0, 0.9, 0.2, 0.1)),  # cut off at the left and the bottom
        ((0.0, 0.0, 1.0, 1.0), Box(0.0, 0.0, 1.0, 1.0)),
        ((1.0, 0.5, 0.2, 0.2), None),  # entirely right of the picture
        ((0.5, 0.5, 0.0, 0.2), None),  # no area
        ((math.nan, 0.1, 0.1, 0.1), None),
    ],
)
def test_a_detected_box_is_kept_to_the_part_inside_the_picture(
    given: tuple[float, float, float, float], expected: Box | None
) -> None:
    assert Box.within_image(*given) == expected


def test_findings_refuse_what_no_backend_could_mean() -> None:
    with pytest.raises(ValueError, match="confidence must be a number from 0 to 1"):
        Label("Dog", 97.0)  # a percentage where a fraction belongs
    with pytest.raises(ValueError, match="reaches outside the image"):
        Box(0.8, 0.0, 0.3, 0.1)
    with pytest.raises(ValueError, match="unknown recognition backend"):
        Findings(backend="vision", labels=None, faces=None, moderation=None)


# ---------------------------------------------------------------- the operation
def test_an_unflagged_upload_is_recognized_and_keeps_the_contract() -> None:
    # Given a backend that sees a dog, a face and a mild moderation label
    recognizer = CannedRecognizer(_findings(0.2))
    # When the upload is recognized with the threshold at 0.5
    data = recognize(UploadImage(b"jpeg"), recognizer, ModerationThreshold(0.5), ImageLimits())
    # Then the answer carries labels with parents, the face box, the moderation verdict, the backend
    recognition = data["recognition"]
    assert recognition["backend"] == "rekognition"
    assert recognition["labels"] == [{"name": "Dog", "confidence": 0.97, "parents": ["Animal", "Pet"]}]
    assert recognition["faces"] == [{"box": {"left": 0.1, "top": 0.2, "width": 0.3, "height": 0.4}, "confidence": 0.99}]
    assert recognition["moderation"] == {
        "flagged": False,
        "score": 0.2,
        "threshold": 0.5,
        "labels": [{"name": "label 0", "confidence": 0.2, "parent": None, "level": None}],
    }
    event = _as_event(data, EventType.IMAGE_RECOGNIZED)
    assert str(contracts.validate("ImageRecognized", event.detail())) == "ImageRecognized v1"


def test_what_a_backend_cannot_provide_is_published_as_not_available() -> None:
    # Given the moderation-only backend's findings (no labels, no faces)
    findings = Findings(backend="onnx", labels=None, faces=None, moderation=(ModerationLabel("NSFW", 0.01),))
    data = recognize(UploadImage(b"jpeg"), CannedRecognizer(findings), ModerationThreshold(0.8), ImageLimits())
    # Then labels and faces are null (not available), not empty lists (looked, found none)
    assert (data["recognition"]["labels"], data["recognition"]["faces"]) == (None, None)
    contracts.validate("ImageRecognized", _as_event(data, EventType.IMAGE_RECOGNIZED).detail())


def test_a_flagged_upload_is_rejected_for_moderation_with_the_labels_that_flagged_it() -> None:
    # Given a backend reporting one label above the threshold and one below it
    findings = Findings(
        backend="rekognition",
        labels=(),
        faces=(),
        moderation=(
            ModerationLabel("Explicit", 0.93, None, 1),
            ModerationLabel("Explicit Nudity", 0.91, "Explicit", 2),
            ModerationLabel("Swimwear or Underwear", 0.4, "Non-Explicit Nudity", 2),
        ),
    )
    # When the upload is recognized with the threshold at 0.9
    with pytest.raises(ImageRejected) as rejected:
        recognize(UploadImage(b"jpeg"), CannedRecognizer(findings), ModerationThreshold(0.9), ImageLimits())
    # Then it is rejected (moderation), naming exactly the labels at or above 0.9
    assert rejected.value.reason == "moderation"
    assert "Explicit 93%" in str(rejected.value)
    assert rejected.value.details["labels"] == [
        {"name": "Explicit", "confidence": 0.93, "parent": None, "level": 1},
        {"name": "Explicit Nudity", "confidence": 0.91, "parent": "Explicit", "level": 2},
    ]
    assert (rejected.value.details["score"], rejected.value.details["threshold"]) == (0.93, 0.9)
    # and the rejection event that carries them keeps its contract
    data = {**rejected.value.details, "reason": "moderation", "message": str(rejected.value), "job": "recognition"}
    contracts.validate("ImageRejected", _as_event(data, EventType.IMAGE_REJECTED).detail())


def test_the_recognized_contract_refuses_a_flagged_or_out_of_range_answer() -> None:
    data = recognize(UploadImage(b"jpeg"), CannedRecognizer(_findings(0.2)), ModerationThreshold(0.5), ImageLimits())
    for path, value in [
        (("moderation", "flagged"), True),  # a flagged image is rejected, never "recognized"
        (("faces", 0, "box", "left"), 1.5),
        (("labels", 0, "confidence"), 97.0),
        (("backend",), "vision"),
    ]:
        broken = _as_event(data, EventType.IMAGE_RECOGNIZED).detail()
        target: Any = broken["data"]["recognition"]
        for step in path[:-1]:
            target = target[step]
        target[path[-1]] = value
        with pytest.raises(contracts.ContractViolation):
            contracts.validate("ImageRecognized", broken)


# ---------------------------------------------------------------- settings
BASE = {
    "IMAGES_BUCKET": "b",
    "APP_BUS_NAME": "bus",
    "EVENT_SOURCE": "image-pipeline",
    "IDEMPOTENCY_TABLE": "t",
    "MAX_IMAGE_PIXELS": "40000000",
    "MAX_IMAGE_SIDE": "12000",
    "MAX_ANIMATION_FRAMES": "100",
}


@pytest.mark.parametrize("threshold", ["0", "0.5", "1"])
def test_settings_take_a_threshold_from_0_to_1(threshold: str) -> None:
    environ = {**BASE, "RECOGNITION_BACKEND": "onnx", "MODERATION_THRESHOLD": threshold}
    assert RecognizeSettings.from_env(environ).moderation_threshold == float(threshold)


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MODERATION_THRESHOLD", "-0.01"),
        ("MODERATION_THRESHOLD", "1.01"),
        ("MODERATION_THRESHOLD", "nan"),
        ("RECOGNITION_BACKEND", "vision"),
    ],
)
def test_settings_refuse_a_bad_threshold_or_backend_naming_the_variable(name: str, value: str) -> None:
    environ = {**BASE, "RECOGNITION_BACKEND": "off", "MODERATION_THRESHOLD": "0.5", name: value}
    with pytest.raises(SettingsError, match=name):
        RecognizeSettings.from_env(environ)

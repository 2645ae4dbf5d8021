"""The recognition of one upload: the ``ImageRecognized`` data, or a rejection for moderation."""

import logging
from typing import Any

from image_pipeline.imaging import ImageLimits, ImageRejected, Reason
from image_pipeline.ports import ObjectLocation, UploadImage
from image_pipeline.processing import JobResult, Operation, Source
from image_pipeline.recognition.model import Findings, ModerationThreshold, Verdict
from image_pipeline.recognition.port import Recognizer

log = logging.getLogger(__name__)


def recognize(
    image: UploadImage, recognizer: Recognizer, threshold: ModerationThreshold, limits: ImageLimits
) -> dict[str, Any]:
    """The ``ImageRecognized`` data for ``image`` (``{"recognition": {...}}``).

    Raises ``ImageRejected`` with reason ``moderation`` when a moderation label reaches the
    threshold: its ``details`` carry the labels that flagged the image (and the score, the
    threshold and the backend), which the ``ImageRejected`` event publishes beside the reason.
    """
    findings = recognizer.recognize(image, limits)
    verdict = threshold.judge(findings)
    if verdict.flagged:
        names = ", ".join(f"{label.name} {label.confidence:.0%}" for label in verdict.labels)
        log.warning("withheld by moderation: %s", names, extra={"backend": findings.backend})
        raise ImageRejected(
            Reason.MODERATION,
            f"{findings.backend} flagged the image at or above {verdict.threshold:g}: {names}",
            details={
                "backend": findings.backend,
                "labels": [label.to_json() for label in verdict.labels],
                "score": verdict.score,
                "threshold": verdict.threshold,
            },
        )
    return {"recognition": recognized_data(findings, verdict)}


def recognition_operation(recognizer: Recognizer, threshold: ModerationThreshold) -> Operation:
    """The recognition job's operation (``processing.Operation``) with a deployment's backend and
    threshold. The backend is told where the upload is stored, so Rekognition can read the
    object itself instead of being sent its bytes."""

    def operation(source: Source, limits: ImageLimits) -> JobResult:
        upload = source.upload
        location = ObjectLocation(upload.bucket, upload.key, upload.etag) if upload is not None else None
        image = UploadImage(source.data, location, source.content_type)
        return JobResult(data=recognize(image, recognizer, threshold, limits))

    return operation


def recognized_data(findings: Findings, verdict: Verdict) -> dict[str, Any]:
    """The JSON of a recognition (contracts/schemas/ImageRecognized.v1.json, under ``recognition``)."""
    data: dict[str, Any] = {
        "backend": findings.backend,
        "labels": None if findings.labels is None else [label.to_json() for label in findings.labels],
        "faces": None if findings.faces is None else [face.to_json() for face in findings.faces],
        "moderation": {
            "flagged": verdict.flagged,
            "score": verdict.score,
            "threshold": verdict.threshold,
            "labels": None if findings.moderation is None else [label.to_json() for label in findings.moderation],
        },
    }
    if findings.model is not None:
        data["model"] = findings.model
    if findings.input is not None:
        data["input"] = findings.input
    return data

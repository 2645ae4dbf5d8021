"""A valid ``data`` for every event type of the catalogue (tests/unit/test_contracts.py proves each
one keeps its schema), so a test can put any event on the bus the way its producer would."""

from datetime import UTC, datetime
from typing import Any

from image_pipeline import catalogue
from image_pipeline.catalogue import EventType, Job
from image_pipeline.events import PipelineEvent
from image_pipeline.imaging import ImageLimits
from image_pipeline.processing import OPERATIONS, Source
from tests.unit.imaging import samples as pictures

IMAGE = "3f9a2c1e5b7d4e8f9a0b1c2d3e4f5a6b"
EDIT = "e" * 32
_JOB_OUTCOME = {"reason": "truncated", "message": "the file ends early", "job": catalogue.JOBS[0].name}

DATA: dict[EventType, dict[str, Any]] = {
    EventType.UPLOAD_REQUESTED: {
        "key": f"uploads/{IMAGE}.jpg",
        "contentType": "image/jpeg",
        "maxBytes": 1024,
        "expiresAt": "2026-11-22T09:40:00+00:00",
    },
    EventType.IMAGE_UPLOADED: {
        "bucket": "images",
        "key": f"uploads/{IMAGE}.jpg",
        "version": "0A1B2C3D4E5F678901",
        "sequencer": "0A1B2C3D4E5F678901",
    },
    EventType.IMAGE_REJECTED: _JOB_OUTCOME,
    EventType.IMAGE_PROCESSING_FAILED: {**_JOB_OUTCOME, "reason": "source_missing"},
    EventType.UPLOAD_SUPERSEDED: {"message": "replaced", "job": catalogue.JOBS[0].name},
    EventType.IMAGE_PROCESSING_STALLED: {
        "request": "ImageUploaded",
        "missing": [catalogue.JOBS[0].response.value],
        "deadline": "2026-11-22T09:35:00+00:00",
        "waitedSeconds": 300.0,
    },
    EventType.UPLOAD_EXPIRED: {"expiresAt": "2026-11-22T09:40:00+00:00", "key": f"uploads/{IMAGE}.jpg"},
    EventType.EDIT_REQUESTED: {
        "editId": EDIT,
        "source": {"bucket": "images", "key": f"uploads/{IMAGE}.jpg", "etag": "abc"},
        "operations": [{"filter": "sepia"}],
        "format": "webp",
    },
    EventType.EDIT_COMPLETED: {
        "editId": EDIT,
        "output": {"key": f"outputs/{IMAGE}/edits/{EDIT}.webp", "mediaType": "image/webp", "bytes": 100},
    },
    EventType.EDIT_REJECTED: {"editId": EDIT, "step": "crop", "reason": "unsupported_format", "message": "no"},
    EventType.EDIT_FAILED: {"editId": EDIT, "step": "crop", "reason": "step_failed", "error": "E", "message": "no"},
    EventType.REPROCESS_REQUESTED: {
        "job": "renditions",
        "upload": {"key": f"uploads/{IMAGE}.jpg", "version": "0A1B2C3D4E5F678901"},
        "specVersion": "0123456789ab",
        "previousSpecVersion": None,
        "run": "reprocess-1",
    },
    EventType.IMAGE_STATUS_CHANGED: {
        "status": "COMPLETE",
        "previous": "PROCESSING",
        "reasonCode": None,
        "reason": None,
        "version": 2,
        "final": True,
        "createdAt": "2026-11-22T09:30:00+00:00",
        "upload": {
            "version": "0A1B2C3D4E5F678901",
            "key": f"uploads/{IMAGE}.jpg",
            "uploadedAt": "2026-11-22T09:30:00+00:00",
        },
        "latencyMs": 1250,
    },
    EventType.EDIT_STATUS_CHANGED: {
        "editId": EDIT,
        "status": "COMPLETE",
        "previous": "RUNNING",
        "reasonCode": None,
        "reason": None,
        "version": 2,
        "final": True,
        "requestedAt": "2026-11-22T09:31:00+00:00",
        "latencyMs": 2100,
    },
    EventType.STATUS_PUSHED: {
        "status": "COMPLETE",
        "version": 2,
        "final": True,
        "watchers": 1,
        "delivered": 1,
        "gone": 0,
        "latencyMs": 40,
    },
    EventType.WEBHOOK_ATTEMPTED: {
        "attempt": 1,
        "outcome": "delivered",
        "statusCode": 204,
        "latencyMs": 120,
        "error": None,
        "nextAttemptAt": None,
        "callbackHost": "hooks.example.com",
        "status": "COMPLETE",
        "webhookId": f"status:{IMAGE}:2",
    },
}


def _answer(job: Job) -> dict[str, Any]:
    """What the job's own operation answers for a small photo, its outputs listed as they are
    stored: a new job's sample keeps its schema by construction."""
    result = OPERATIONS[job.name](Source(pictures.encode(pictures.photo((64, 48)), "JPEG")), ImageLimits())
    outputs = [
        {
            "name": r.name,
            "key": f"outputs/{IMAGE}/0A1B/{r.name}.{r.extension}",
            "format": r.format,
            "mediaType": r.media_type,
            "width": r.width,
            "height": r.height,
            "bytes": len(r.data),
        }
        for r in result.renditions
    ]
    return {**result.data, **({"outputs": outputs} if outputs else {})}


DATA[EventType.IMAGE_ANALYZED] = {
    "analysis": {"format": "JPEG", "mediaType": "image/jpeg", "width": 640, "height": 480, "bytes": 48213}
}
DATA[EventType.IMAGE_RECOGNIZED] = {
    "recognition": {
        "backend": "rekognition",
        "labels": [{"name": "Person", "confidence": 0.9912, "parents": []}],
        "faces": [{"box": {"left": 0.4, "top": 0.2, "width": 0.2, "height": 0.3}, "confidence": 0.9987}],
        "moderation": {"flagged": False, "score": 0.0, "threshold": 0.8, "labels": []},
    }
}
# every other job's answer, as its operation makes it
for _job in catalogue.JOBS:
    if _job.response not in DATA:
        DATA[_job.response] = _answer(_job)


def event(
    event_type: EventType,
    *,
    image_id: str = IMAGE,
    at: datetime | None = None,
    causation_id: str | None = None,
    event_id: str | None = None,
    **data: Any,
) -> PipelineEvent:
    """``event_type`` as its first owner publishes it, with valid data (fields overridden by ``data``)."""
    return PipelineEvent.new(
        event_type,
        image_id=image_id,
        producer=min(catalogue.owners(event_type)),
        causation_id=causation_id,
        event_id=event_id,
        occurred_at=at or datetime.now(UTC),
        data={**DATA[event_type], **data},
    )

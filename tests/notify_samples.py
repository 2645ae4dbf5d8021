"""Sample events for the push and webhook tests: a processed image in an image log (every job of
the catalogue answered it), and the tracker's announcements about it (ImageStatusChanged,
EditStatusChanged) in the shapes their schemas give them."""

from datetime import UTC, datetime, timedelta
from typing import Any

from image_pipeline import catalogue
from image_pipeline.catalogue import EventType
from image_pipeline.edits import EditSource, edit_requested, outcome_event_id, parse_edit_request
from image_pipeline.events import PipelineEvent
from image_pipeline.ports import ImageLog, ImageRecord
from tests.samples import DATA

IMAGE = "0123456789abcdef0123456789abcdef"
EDIT = "aaaabbbbccccddddeeeeffff00001111"
T0 = datetime(2026, 11, 22, 9, 30, tzinfo=UTC)
SEQUENCER = "0A1B2C3D4E5F607182"
BUCKET = "images-bucket"


def _answer(job: catalogue.Job, image_id: str, sequencer: str) -> dict[str, Any]:
    """What the job answers an upload with (its sample data), its outputs under this upload."""
    data = dict(DATA[job.response])
    data["outputs"] = [
        {**output, "name": job.name, "key": f"outputs/{image_id}/{sequencer}/{job.name}.jpg"}
        for output in data.get("outputs", [])
    ]
    return data


def processed_image(
    log: ImageLog, image_id: str = IMAGE, *, callback_url: str | None = None, sequencer: str = SEQUENCER
) -> None:
    """An API upload that every job answered: COMPLETE, with its outputs and its analysis."""
    key = f"uploads/{image_id}.jpg"
    if log.get_image(image_id) is None:
        record = ImageRecord(
            image_id, "holiday.jpg", "image/jpeg", key, T0 - timedelta(seconds=5), "api", callback_url=callback_url
        )
        log.create_image(
            record,
            PipelineEvent.new(
                EventType.UPLOAD_REQUESTED,
                image_id=image_id,
                producer="ApiFunction",
                occurred_at=T0 - timedelta(seconds=5),
                data={**DATA[EventType.UPLOAD_REQUESTED], "key": key},
            ),
        )
    upload_id = f"{image_id}@{sequencer}"
    upload = {"bucket": BUCKET, "key": key, "version": sequencer, "sequencer": sequencer, "size": 1234, "etag": "e1"}
    log.append(
        PipelineEvent.new(
            EventType.IMAGE_UPLOADED,
            image_id=image_id,
            producer="IntakeFunction",
            event_id=upload_id,
            occurred_at=T0,
            data={**upload, "contentType": "image/jpeg"},
        )
    )
    for i, job in enumerate(catalogue.JOBS, start=1):
        log.append(
            PipelineEvent.new(
                job.response,
                image_id=image_id,
                producer=job.function,
                event_id=f"{job.response.value}:{upload_id}",
                causation_id=upload_id,
                occurred_at=T0 + timedelta(seconds=i),
                data=_answer(job, image_id, sequencer),
            )
        )


def status_changed(
    version: int,
    status: str,
    *,
    previous: str | None = None,
    final: bool = False,
    image_id: str = IMAGE,
    edit_id: str | None = None,
    upload_version: str | None = SEQUENCER,
    event_id: str | None = None,
    at: float = 10,
) -> PipelineEvent:
    """The tracker's announcement of one status change (ImageStatusChanged, or EditStatusChanged)."""
    latency = 4200 if final else None
    data: dict[str, Any]
    if edit_id is None:
        kind = EventType.IMAGE_STATUS_CHANGED
        upload = None
        if upload_version:
            upload = {"version": upload_version, "key": f"uploads/{image_id}.jpg", "uploadedAt": T0.isoformat()}
        data = {"createdAt": (T0 - timedelta(seconds=5)).isoformat(), "upload": upload}
    else:
        kind = EventType.EDIT_STATUS_CHANGED
        data = {"editId": edit_id, "requestedAt": (T0 + timedelta(seconds=30)).isoformat()}
    data |= {
        "status": status,
        "previous": previous,
        "reasonCode": None,
        "reason": None,
        "version": version,
        "final": final,
        "latencyMs": latency,
    }
    return PipelineEvent.new(
        kind,
        image_id=image_id,
        producer="TrackerFunction",
        event_id=event_id or f"status:{image_id}:{f'edit:{edit_id}:' if edit_id else ''}{version}",
        causation_id=f"cause-{version}",
        occurred_at=T0 + timedelta(seconds=at),
        data=data,
    )


def as_eventbridge(event: PipelineEvent) -> dict[str, Any]:
    """The event as an EventBridge rule delivers it (to a function, or as an SQS message body)."""
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": event.type.value,
        "source": catalogue.SOURCE,
        "account": "123456789012",
        "time": event.occurred_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "us-east-1",
        "resources": [],
        "detail": event.detail(),
    }


def failed_edit(log: ImageLog, image_id: str = IMAGE) -> str:
    """An edit of the processed image that failed at its filter step; its edit id."""
    source = EditSource(bucket=BUCKET, key=f"uploads/{image_id}.jpg", etag="e1")
    requested = edit_requested(
        image_id,
        source,
        parse_edit_request({"operations": [{"filter": "sepia"}]}),
        producer="ApiFunction",
        now=T0 + timedelta(seconds=30),
    )
    log.append(requested)
    edit = str(requested.data["editId"])
    log.append(
        PipelineEvent.new(
            EventType.EDIT_FAILED,
            image_id=image_id,
            producer="EditWorkflow",
            event_id=outcome_event_id(edit, EventType.EDIT_FAILED),
            causation_id=requested.event_id,
            occurred_at=T0 + timedelta(seconds=33),
            data={**DATA[EventType.EDIT_FAILED], "editId": edit, "step": "filter"},
        )
    )
    return edit

"""The tracker's two jobs: record each pipeline event against its image, and find stalls."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from image_pipeline import contracts
from image_pipeline.events import NotAPipelineEvent, PipelineEvent
from image_pipeline.ports import EventPublisher, ImageLog
from image_pipeline.tracking import STALL, ImageState, ImageStatus, derive_state
from image_pipeline.uploads import NotAnUploadEvent, parse_uploads

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recorded:
    state: ImageState
    duplicate: bool


def pipeline_event(event: dict[str, Any]) -> PipelineEvent:
    """What the tracker hears: an app-bus event, or the S3 upload that starts it all.

    Raises :class:`NotAPipelineEvent` for anything else (unknown types are logged and ignored), and
    for an app-bus event whose producer does not own its type (``contracts.OWNERS``).
    """
    if event.get("source") == "aws.s3":
        try:
            uploads = parse_uploads(event)
        except NotAnUploadEvent as exc:
            raise NotAPipelineEvent(str(exc)) from exc
        if not uploads:
            raise NotAPipelineEvent("S3 event for an object outside the uploads/ layout")
        return uploads[0].uploaded_event()
    received = PipelineEvent.from_eventbridge(event)
    try:
        contracts.check_owner(received.type.value, received.metadata.producer)
    except contracts.ContractViolation as exc:
        raise NotAPipelineEvent(str(exc)) from exc  # e.g. a ThumbnailCreated not from ThumbnailFunction
    return received


def record_event(event: PipelineEvent, images: ImageLog, stall_timeout: timedelta) -> Recorded:
    """Record the event once, then re-derive the image's state from all its events.

    The state is re-derived even for a duplicate, so a retry repairs an earlier attempt that
    recorded the event but died before updating the deadline.
    """
    fresh = images.append(event)
    state = derive_state(images.events(event.image_id), stall_timeout)
    images.set_deadline(event.image_id, state.deadline)
    return Recorded(state=state, duplicate=not fresh)


def sweep_stalled(
    images: ImageLog,
    publisher: EventPublisher,
    *,
    now: datetime,
    stall_timeout: timedelta,
    producer: str,
) -> list[PipelineEvent]:
    """Publish ImageProcessingStalled for every open image past its deadline.

    The deadline index only nominates candidates: each is re-derived from its events first, so
    an image completed a moment ago is never reported. The stall event's id is derived from the
    request, so overlapping sweeps report a stall once.
    """
    stalls = []
    for image_id in images.overdue(now):
        state = derive_state(images.events(image_id), stall_timeout)
        overdue = state.deadline is not None and state.deadline <= now
        if state.status is not ImageStatus.PROCESSING or not overdue or state.current is None:
            images.set_deadline(image_id, state.deadline)  # a stale index entry: repair it
            continue
        request = state.current
        stalls.append(
            PipelineEvent.new(
                STALL,
                image_id=image_id,
                producer=producer,
                event_id=f"stalled:{request.request_id}",
                causation_id=request.request_id,
                data={
                    "missing": [m.value for m in request.missing],
                    "deadline": state.deadline.isoformat() if state.deadline else None,
                    "waitedSeconds": round((now - request.started_at).total_seconds(), 3),
                },
            )
        )
        log.warning("image %s stalled: no %s", image_id, ", ".join(request.missing))
    if stalls:
        publisher.publish(stalls)
    return stalls

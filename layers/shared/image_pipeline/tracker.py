"""The tracker's two jobs: record each pipeline event against its image, and sweep overdue images
(uploads whose responses never came: STALLED; upload URLs nobody used: EXPIRED)."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from image_pipeline import contracts
from image_pipeline.events import EventType, NotAPipelineEvent, PipelineEvent
from image_pipeline.pairing import (
    STALL,
    UPLOAD_EXPIRED,
    UPLOAD_REQUESTED,
    ImageState,
    Waiting,
    derive_state,
    next_deadline,
    waiting,
)
from image_pipeline.ports import EventPublisher, ImageLog

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recorded:
    state: ImageState
    duplicate: bool


def pipeline_event(event: dict[str, Any]) -> PipelineEvent:
    """What the tracker hears: an app-bus event.

    Raises :class:`NotAPipelineEvent` for anything else, and for an event whose producer does not
    own its type (``contracts.OWNERS``): only ThumbnailFunction may say ThumbnailCreated.
    """
    received = PipelineEvent.from_eventbridge(event)
    try:
        contracts.check_owner(received.type.value, received.metadata.producer)
    except contracts.ContractViolation as exc:
        raise NotAPipelineEvent(str(exc)) from exc
    return received


def record_event(event: PipelineEvent, images: ImageLog, stall_timeout: timedelta) -> Recorded:
    """Record the event once, then re-derive the image's state from all its events.

    The state is re-derived even for a duplicate, so a retry repairs an earlier attempt that
    recorded the event but died before updating the deadline.
    """
    fresh = images.append(event)
    events = images.events(event.image_id)
    images.set_deadline(event.image_id, next_deadline(events, stall_timeout))
    return Recorded(state=derive_state(events, stall_timeout), duplicate=not fresh)


@dataclass(frozen=True)
class Swept:
    stalled: list[PipelineEvent]
    expired: list[PipelineEvent]


def _verdict(
    image_id: str, overdue: Waiting, events: list[PipelineEvent], now: datetime, producer: str
) -> PipelineEvent | None:
    """The event an overdue wait deserves (deterministic ids: a replay is a duplicate)."""
    if overdue.request is None:  # no upload before the upload URL expired
        requested = next((e for e in reversed(events) if e.type is UPLOAD_REQUESTED), None)
        if requested is None:
            return None
        return PipelineEvent.new(
            UPLOAD_EXPIRED,
            image_id=image_id,
            producer=producer,
            event_id=f"expired:{requested.event_id}",
            causation_id=requested.event_id,
            data={"expiresAt": requested.data.get("expiresAt"), "key": requested.data.get("key")},
        )
    request = overdue.request
    return PipelineEvent.new(
        STALL,
        image_id=image_id,
        producer=producer,
        event_id=f"stalled:{request.request_id}",
        causation_id=request.request_id,
        data={
            "request": request.request_type.value,
            "missing": [m.value for m in request.missing],
            "deadline": overdue.deadline.isoformat(),
            "waitedSeconds": round((now - request.started_at).total_seconds(), 3),
        },
    )


def sweep_overdue(
    images: ImageLog,
    publisher: EventPublisher,
    *,
    now: datetime,
    stall_timeout: timedelta,
    producer: str,
) -> Swept:
    """Publish ImageProcessingStalled / UploadExpired for every open image past its deadline.

    The deadline index only nominates candidates: each is re-derived from its events first, so
    an image completed a moment ago is never reported. Overlapping sweeps may both publish a
    verdict (its id is deterministic, so the tracker records it once); only the sweep that claims
    it after publishing returns it, so metrics count each verdict once.
    """
    verdicts: list[PipelineEvent] = []
    for image_id in images.overdue(now):
        events = images.events(image_id)
        found = [
            verdict
            for overdue in waiting(events, stall_timeout)
            if overdue.deadline <= now and (verdict := _verdict(image_id, overdue, events, now, producer)) is not None
        ]
        if not found:
            images.set_deadline(image_id, next_deadline(events, stall_timeout))  # a stale index entry: repair it
            continue
        verdicts += found
        for verdict in found:
            log.warning("image %s: %s %s", image_id, verdict.type, verdict.data.get("missing") or "(no upload)")
    if verdicts:
        publisher.publish(verdicts)
    claimed = [v for v in verdicts if images.claim(v.image_id, v.event_id)]
    return Swept(
        stalled=[v for v in claimed if v.type is EventType.IMAGE_PROCESSING_STALLED],
        expired=[v for v in claimed if v.type is EventType.UPLOAD_EXPIRED],
    )

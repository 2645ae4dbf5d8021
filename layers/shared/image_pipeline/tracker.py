"""The tracker: the one place that decides an image's status, and says so on the bus.

It records each pipeline event against its image (once, and only an event that keeps its contract:
a forged answer with a broken body is refused like any other), re-derives the image's status from
all its events, and publishes every change as ``ImageStatusChanged`` with a version that only
grows per image; an edit's status changes likewise, as ``EditStatusChanged`` with versions of its
own. Consumers apply these verdicts; none re-derives them. Receipts (what a requester was told)
are recorded for the trace and change no status. The sweeper half reports overdue images
(responses that never came: STALLED; upload URLs nobody used: EXPIRED)."""

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from image_pipeline import contracts
from image_pipeline.catalogue import EDIT_FINAL, FINAL, PAIRINGS
from image_pipeline.edits import EditState, edit_state
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
from image_pipeline.ports import Announcement, EventPublisher, ImageLog

log = logging.getLogger(__name__)


TRACKER_PRODUCER = "TrackerFunction"
MAX_ANNOUNCE_ATTEMPTS = 5  # concurrent answers for one image race for each version; few lose twice
PUBLISH_BATCH = 10  # verdicts published at once (one PutEvents call): a sweep cut short keeps them


class StatusRace(RuntimeError):
    """Other writers kept announcing this image's status first: the event is retried (Lambda)."""


@dataclass(frozen=True)
class Recorded:
    state: ImageState
    duplicate: bool
    announced: PipelineEvent | None = None  # the ImageStatusChanged this event led to, if any
    edit_announced: PipelineEvent | None = None  # the EditStatusChanged, for an event of an edit


def pipeline_event(event: dict[str, Any]) -> PipelineEvent:
    """What the tracker hears: an app-bus event that keeps its contract.

    Raises :class:`NotAPipelineEvent`, naming what is wrong, for anything else: an unknown type, a
    detail its schema refuses (a forged answer with an empty body is no answer), or a producer
    that does not own the type (only ThumbnailFunction may say ThumbnailCreated). This is the
    check the hub makes, so what the tracker counts is what the consumers will see.
    """
    received = PipelineEvent.from_eventbridge(event)  # the envelope first: it names every broken field
    try:
        contracts.validate(received.type, event["detail"])
    except contracts.ContractViolation as exc:
        raise NotAPipelineEvent(f"{exc.reason}: {exc}") from exc
    return received


def record_event(
    event: PipelineEvent,
    images: ImageLog,
    stall_timeout: timedelta,
    publisher: EventPublisher,
    now: datetime,
) -> Recorded:
    """Record the event once, re-derive the image's state from all its events, and announce the
    status if it changed.

    All of it runs even for a duplicate, so a retry repairs an earlier attempt that recorded the
    event but died before updating the deadline or publishing the status change.
    """
    fresh = images.append(event)
    if event.type in PAIRINGS:
        # A request opens a wait. Reading the whole log is the slow part; if this invocation dies
        # during it (and its retries too), the sweeper must still look at the wait in time.
        images.look_by(event.image_id, event.occurred_at + stall_timeout)
    events = images.events(event.image_id)
    images.set_deadline(event.image_id, next_deadline(events, stall_timeout), seen=len(events))
    announced = announce_status(event, images, publisher, stall_timeout=stall_timeout, now=now)
    edit = edit_of(event, events)
    edit_announced = None
    if edit is not None:
        edit_announced = announce_edit_status(event, edit, images, publisher, stall_timeout=stall_timeout, now=now)
    return Recorded(
        state=derive_state(events, stall_timeout),
        duplicate=not fresh,
        announced=announced,
        edit_announced=edit_announced,
    )


def _upload(state: ImageState) -> dict[str, Any] | None:
    uploaded = state.current.request if state.current else None
    if uploaded is None or uploaded.type is not EventType.IMAGE_UPLOADED:
        return None
    return {
        "version": str(uploaded.data.get("version") or uploaded.event_id),
        "key": str(uploaded.data.get("key")),
        "uploadedAt": uploaded.occurred_at.isoformat(),
    }


def latency_ms(state: ImageState) -> int | None:
    """The one latency of the pipeline: from the upload to the event that made its status final
    (the last response when COMPLETE, the refusal when REJECTED or FAILED). The trace, the live
    aggregates and the archive all report this figure."""
    current = state.current
    if state.status not in FINAL or current is None or current.request is None:
        return None
    answers = [current.closing] if current.closing is not None else list(current.responses.values())
    if not answers:
        return None
    finished = max(e.occurred_at for e in answers if e is not None)
    return max(0, round((finished - current.request.occurred_at).total_seconds() * 1000))


def status_change(
    cause: PipelineEvent, events: list[PipelineEvent], state: ImageState, previous: Announcement | None, now: datetime
) -> PipelineEvent | None:
    """The ImageStatusChanged that ``state`` calls for after ``previous``, or None when the image's
    status, reason and upload are what was last announced."""
    upload = _upload(state)
    said = previous.event.data if previous else None
    wanted = (state.status.value, state.reason_code, upload["version"] if upload else None)
    if said is not None and (said["status"], said["reasonCode"], (said["upload"] or {}).get("version")) == wanted:
        return None
    version = (previous.version if previous else 0) + 1
    return PipelineEvent.new(
        EventType.IMAGE_STATUS_CHANGED,
        image_id=cause.image_id,
        producer=TRACKER_PRODUCER,
        event_id=f"status:{cause.image_id}:{version}",
        causation_id=cause.event_id,
        occurred_at=now,
        data={
            "status": state.status.value,
            "previous": said["status"] if said else None,
            "reasonCode": state.reason_code,
            "reason": state.reason,
            "version": version,
            "final": state.status in FINAL,
            "createdAt": min(e.occurred_at for e in events).isoformat(),
            "upload": upload,
            "latencyMs": latency_ms(state),
        },
    )


def announce_status(
    cause: PipelineEvent, images: ImageLog, publisher: EventPublisher, *, stall_timeout: timedelta, now: datetime
) -> PipelineEvent | None:
    """Publish the image's status if it changed (see :func:`_announce`)."""

    def change_after(previous: Announcement | None) -> PipelineEvent | None:
        events = images.events(cause.image_id)
        return status_change(cause, events, derive_state(events, stall_timeout), previous, now)

    return _announce(cause.image_id, None, change_after, images, publisher)


def edit_of(event: PipelineEvent, events: list[PipelineEvent]) -> str | None:
    """The edit an event is about: its request, or what answers it (an outcome, a stall); None
    for anything else."""
    request_id = event.event_id if event.type is EventType.EDIT_REQUESTED else event.causation_id
    request = next((e for e in events if e.event_id == request_id and e.type is EventType.EDIT_REQUESTED), None)
    return str(request.data["editId"]) if request is not None else None


def edit_status_change(
    cause: PipelineEvent, state: EditState, previous: Announcement | None, now: datetime
) -> PipelineEvent | None:
    """The EditStatusChanged that ``state`` calls for after ``previous``, or None when the edit's
    status and reason are what was last announced."""
    said = previous.event.data if previous else None
    if said is not None and (said["status"], said["reasonCode"]) == (state.status.value, state.reason_code):
        return None
    edit = str(state.requested.data["editId"])
    version = (previous.version if previous else 0) + 1
    final = state.status in EDIT_FINAL
    answered = state.answer.occurred_at if final and state.answer is not None else None
    return PipelineEvent.new(
        EventType.EDIT_STATUS_CHANGED,
        image_id=cause.image_id,
        producer=TRACKER_PRODUCER,
        event_id=f"edit-status:{edit}:{version}",
        causation_id=cause.event_id,
        occurred_at=now,
        data={
            "editId": edit,
            "status": state.status.value,
            "previous": said["status"] if said else None,
            "reasonCode": state.reason_code,
            "reason": state.reason,
            "version": version,
            "final": final,
            "requestedAt": state.requested.occurred_at.isoformat(),
            "latencyMs": _millis_between(state.requested.occurred_at, answered) if answered else None,
        },
    )


def _millis_between(start: datetime, end: datetime) -> int:
    return max(0, round((end - start).total_seconds() * 1000))


def announce_edit_status(
    cause: PipelineEvent,
    edit: str,
    images: ImageLog,
    publisher: EventPublisher,
    *,
    stall_timeout: timedelta,
    now: datetime,
) -> PipelineEvent | None:
    """Publish the edit's status if it changed, as the image's is (see :func:`_announce`)."""

    def change_after(previous: Announcement | None) -> PipelineEvent | None:
        state = edit_state(images.events(cause.image_id), edit, stall_timeout)
        return edit_status_change(cause, state, previous, now) if state is not None else None

    return _announce(cause.image_id, edit, change_after, images, publisher)


def _announce(
    image_id: str,
    edit: str | None,
    change_after: Callable[[Announcement | None], PipelineEvent | None],
    images: ImageLog,
    publisher: EventPublisher,
) -> PipelineEvent | None:
    """Publish a status change of the image (or of one of its edits) if there is one: stored
    first (conditionally on the version it replaces, so two answers racing for one image cannot
    both announce version n), then put on the bus, then marked published. A stored change left
    unpublished by a crash goes out on the next event of the image (its id is its version's, so a
    consumer sees it once)."""
    for _ in range(MAX_ANNOUNCE_ATTEMPTS):
        previous = images.announcement(image_id, edit)
        change = change_after(previous)
        if change is None:
            if previous is not None and not previous.published:
                publisher.publish([previous.event])
                images.mark_published(image_id, previous.version, edit)
                return previous.event
            return None
        if images.announce(change, replaces=previous.version if previous else 0):
            publisher.publish([change])
            images.mark_published(image_id, int(change.data["version"]), edit)
            subject = image_id if edit is None else f"{image_id} edit {edit}"
            log.info("image %s is %s (v%s)", subject, change.data["status"], change.data["version"])
            return change
    subject = f"image {image_id}" + (f" edit {edit}" if edit else "")
    raise StatusRace(f"{subject}: its status kept changing under {MAX_ANNOUNCE_ATTEMPTS} attempts")


@dataclass(frozen=True)
class Swept:
    stalled: list[PipelineEvent]
    expired: list[PipelineEvent]
    postponed: int = 0  # overdue images left for the next sweep, for want of time


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
    out_of_time: Callable[[], bool] = lambda: False,
) -> Swept:
    """Publish ImageProcessingStalled / UploadExpired for every open image past its deadline.

    The deadline index only nominates candidates: each is re-derived from its events first, so
    an image completed a moment ago is never reported. Verdicts go out a PutEvents call at a
    time, the longest overdue first, and the sweep stops when ``out_of_time()`` says so: a sweep
    cut short keeps what it published, and the next one starts where it matters most.
    Overlapping sweeps may both publish a verdict (its id is deterministic, so the tracker
    records it once); only the sweep that claims it after publishing returns it, so metrics
    count each verdict once.
    """
    claimed: list[PipelineEvent] = []
    verdicts: list[PipelineEvent] = []

    def publish() -> None:
        publisher.publish(verdicts)
        claimed.extend(v for v in verdicts if images.claim(v.image_id, v.event_id))
        verdicts.clear()

    candidates = images.overdue(now)
    looked = 0
    for image_id in candidates:
        if out_of_time():
            break
        looked += 1
        events = images.events(image_id)
        found = [
            verdict
            for overdue in waiting(events, stall_timeout)
            if overdue.deadline <= now and (verdict := _verdict(image_id, overdue, events, now, producer)) is not None
        ]
        if not found:
            images.set_deadline(image_id, next_deadline(events, stall_timeout), seen=len(events))  # a stale entry
            continue
        for verdict in found:
            log.warning("image %s: %s %s", image_id, verdict.type, verdict.data.get("missing") or "(no upload)")
        verdicts += found
        if len(verdicts) >= PUBLISH_BATCH:
            publish()
    if verdicts:
        publish()
    return Swept(
        stalled=[v for v in claimed if v.type is EventType.IMAGE_PROCESSING_STALLED],
        expired=[v for v in claimed if v.type is EventType.UPLOAD_EXPIRED],
        postponed=len(candidates) - looked,
    )

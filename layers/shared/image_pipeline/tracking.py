"""Event pairing: which responses each request expects, and the image status that follows.

Everything here is a pure function of the *set* of events recorded for an image, so events
that arrive late, out of order or twice lead to the same state. ``PAIRINGS`` is the one
declarative map of the pipeline's request/response contract: add a processor, add its event
here, and the tracker, the API and the stall sweeper all follow.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from image_pipeline.events import EventType, PipelineEvent


class ImageStatus(StrEnum):
    PENDING = "PENDING"  # upload URL issued, nothing uploaded yet
    PROCESSING = "PROCESSING"  # uploaded; responses still due
    COMPLETE = "COMPLETE"  # every expected response arrived
    REJECTED = "REJECTED"  # the image itself is unacceptable (reason given); never retried
    FAILED = "FAILED"  # processing could not happen (reason given)
    STALLED = "STALLED"  # a response is overdue (ImageProcessingStalled names it)


# request -> the responses it expects
PAIRINGS: Mapping[EventType, frozenset[EventType]] = {
    EventType.IMAGE_UPLOADED: frozenset(
        {EventType.THUMBNAIL_CREATED, EventType.RENDITIONS_CREATED, EventType.IMAGE_ANALYZED}
    ),
    EventType.EDIT_REQUESTED: frozenset({EventType.EDIT_COMPLETED}),
}
# events that close a request whatever is still missing
CLOSING: Mapping[EventType, ImageStatus] = {
    EventType.IMAGE_REJECTED: ImageStatus.REJECTED,
    EventType.IMAGE_PROCESSING_FAILED: ImageStatus.FAILED,
    EventType.EDIT_REJECTED: ImageStatus.REJECTED,
    EventType.EDIT_FAILED: ImageStatus.FAILED,
}
# raised by the sweeper when a request outlives its deadline; a late response still completes it
STALL = EventType.IMAGE_PROCESSING_STALLED


def _request_type_expecting(response: EventType) -> EventType | None:
    return next((req for req, expected in PAIRINGS.items() if response in expected), None)


def _chronological(events: Iterable[PipelineEvent]) -> list[PipelineEvent]:
    return sorted(events, key=lambda e: (e.occurred_at, e.event_id))


@dataclass(frozen=True)
class RequestState:
    """One request (e.g. an upload) and what has answered it so far."""

    request_id: str
    request_type: EventType
    request: PipelineEvent | None  # None while only its responses have arrived
    responses: Mapping[EventType, PipelineEvent]
    closing: PipelineEvent | None
    stall: PipelineEvent | None

    @property
    def expected(self) -> frozenset[EventType]:
        return PAIRINGS[self.request_type]

    @property
    def missing(self) -> tuple[EventType, ...]:
        return tuple(sorted(self.expected - self.responses.keys()))

    @property
    def started_at(self) -> datetime:
        if self.request is not None:
            return self.request.occurred_at
        return min(e.occurred_at for e in self.responses.values())


@dataclass(frozen=True)
class ImageState:
    status: ImageStatus
    current: RequestState | None
    reason: str | None = None  # a sentence for people
    reason_code: str | None = None  # a stable code for programs (e.g. "truncated", "stalled")
    deadline: datetime | None = None  # set only while the image is open

    @property
    def missing(self) -> tuple[EventType, ...]:
        return self.current.missing if self.current else ()

    def responses(self) -> Mapping[EventType, PipelineEvent]:
        return self.current.responses if self.current else {}


def _requests(events: list[PipelineEvent]) -> dict[str, RequestState]:
    members: dict[str, list[PipelineEvent]] = defaultdict(list)
    types: dict[str, EventType] = {}
    for event in events:
        if event.type in PAIRINGS:
            members[event.event_id].append(event)
            types[event.event_id] = event.type
        elif event.causation_id is not None:
            members[event.causation_id].append(event)
            if (request_type := _request_type_expecting(event.type)) is not None:
                types.setdefault(event.causation_id, request_type)
    states = {}
    for request_id, group in members.items():
        if request_id not in types:
            continue  # only closing/stall events so far: nothing to pair them with yet
        request_type = types[request_id]
        states[request_id] = RequestState(
            request_id=request_id,
            request_type=request_type,
            request=next((e for e in group if e.event_id == request_id), None),
            responses={e.type: e for e in reversed(group) if e.type in PAIRINGS[request_type]},
            closing=next((e for e in group if e.type in CLOSING), None),
            stall=next((e for e in group if e.type is STALL), None),
        )
    return states


def derive_state(events: Iterable[PipelineEvent], stall_timeout: timedelta) -> ImageState:
    """The image's status from every event recorded for it (order and duplicates do not matter)."""
    ordered = _chronological(events)
    requests = _requests(ordered)
    if not requests:
        return ImageState(status=ImageStatus.PENDING, current=None)
    current = max(requests.values(), key=lambda r: (r.started_at, r.request_id))
    if current.closing is not None:
        data = current.closing.data
        return ImageState(
            status=CLOSING[current.closing.type],
            current=current,
            reason=str(data.get("message") or data.get("reason") or current.closing.type.value),
            reason_code=str(data["reason"]) if data.get("reason") else None,
        )
    if not current.missing:
        return ImageState(status=ImageStatus.COMPLETE, current=current)
    if current.stall is not None:
        missing = ", ".join(current.missing)
        return ImageState(
            status=ImageStatus.STALLED, current=current, reason=f"no {missing} in time", reason_code="stalled"
        )
    return ImageState(status=ImageStatus.PROCESSING, current=current, deadline=current.started_at + stall_timeout)


@dataclass(frozen=True)
class TraceEntry:
    event: PipelineEvent
    offset_ms: int  # since the first event of the image
    latency_ms: int | None  # since the upload it belongs to (None before any upload)
    answers: RequestState | None  # the request this event responds to

    def to_dict(self) -> dict[str, Any]:
        answers = None
        if self.answers is not None and self.event.type not in PAIRINGS:
            answers = {"type": self.answers.request_type.value, "eventId": self.answers.request_id}
        return {
            "type": self.event.type.value,
            "eventId": self.event.event_id,
            "source": self.event.metadata.producer,
            "time": self.event.occurred_at.isoformat(),
            "offsetMs": self.offset_ms,
            "latencyMs": self.latency_ms,
            "answers": answers,
        }


def _millis(delta: timedelta) -> int:
    return round(delta.total_seconds() * 1000)


def trace(events: Iterable[PipelineEvent]) -> list[TraceEntry]:
    """The image's timeline, oldest first, each event tied to the request it answers."""
    ordered = _chronological(events)
    if not ordered:
        return []
    requests = _requests(ordered)
    first = ordered[0].occurred_at
    entries = []
    for event in ordered:
        request = requests.get(event.event_id if event.type in PAIRINGS else event.causation_id or "")
        latency = _millis(event.occurred_at - request.started_at) if request is not None else None
        entries.append(
            TraceEntry(
                event=event,
                offset_ms=_millis(event.occurred_at - first),
                latency_ms=latency,
                answers=request,
            )
        )
    return entries

"""Event pairing: which responses each request expects, and the image status that follows.

Everything here is a pure function of the *set* of events recorded for an image, so events
that arrive late, out of order or twice lead to the same state. The request/response contract
itself, ``PAIRINGS``, is the catalogue's (``image_pipeline.catalogue``): add a job there and the
tracker, the API and the stall sweeper all follow.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from image_pipeline.catalogue import FINAL, PAIRINGS, ImageStatus
from image_pipeline.events import EventType, PipelineEvent

# events that close a request whatever is still missing
CLOSING: Mapping[EventType, ImageStatus] = {
    EventType.IMAGE_REJECTED: ImageStatus.REJECTED,
    EventType.IMAGE_PROCESSING_FAILED: ImageStatus.FAILED,
    EventType.EDIT_REJECTED: ImageStatus.REJECTED,
    EventType.EDIT_FAILED: ImageStatus.FAILED,
}
# raised by the sweeper when a request outlives its deadline; a late response still completes it
STALL = EventType.IMAGE_PROCESSING_STALLED
# a job found the object already replaced by a newer upload: that upload's own request takes over
SUPERSEDED = EventType.UPLOAD_SUPERSEDED
# before any upload: the API's request for one, and the sweeper's verdict when none came in time
UPLOAD_REQUESTED = EventType.UPLOAD_REQUESTED
UPLOAD_EXPIRED = EventType.UPLOAD_EXPIRED


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
    superseded: PipelineEvent | None = None

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

    @property
    def recency(self) -> tuple[int, datetime, int, str]:
        """Orders an image's requests, latest last. Requests seen only through their responses (a
        hand-made or replayed event) never outrank an announced one; uploads of one object are
        ordered by S3's sequencer, since event times have only second precision on AWS."""
        if self.request is None:
            return (0, self.started_at, 0, self.request_id)
        sequencer = str(self.request.data.get("sequencer") or "")
        order = int(sequencer, 16) if sequencer and all(c in "0123456789abcdefABCDEF" for c in sequencer) else 0
        return (1, self.request.occurred_at.replace(microsecond=0), order, self.request_id)


@dataclass(frozen=True)
class ImageState:
    status: ImageStatus
    current: RequestState | None
    reason: str | None = None  # a sentence for people
    reason_code: str | None = None  # a stable code for programs (e.g. "truncated", "stalled")
    deadline: datetime | None = None  # set only while the image is open

    @property
    def missing(self) -> tuple[EventType, ...]:
        """The responses still awaited: none once the image is final (a rejected image's other
        jobs will never answer, and nobody waits for them)."""
        if self.current is None or self.status in FINAL:
            return ()
        return self.current.missing

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
            superseded=next((e for e in group if e.type is SUPERSEDED), None),
        )
    return states


def _before_any_upload(events: list[PipelineEvent], stall_timeout: timedelta) -> ImageState:
    """PENDING while the upload window (plus the stall timeout's grace) is open, then EXPIRED."""
    requested = [e for e in events if e.type is UPLOAD_REQUESTED]
    if any(e.type is UPLOAD_EXPIRED for e in events):
        return ImageState(
            status=ImageStatus.EXPIRED,
            current=None,
            reason="nothing was uploaded before the upload URL expired",
            reason_code="upload_expired",
        )
    expires = requested[-1].data.get("expiresAt") if requested else None
    deadline = datetime.fromisoformat(expires) + stall_timeout if expires else None
    return ImageState(status=ImageStatus.PENDING, current=None, deadline=deadline)


def _state_of(current: RequestState, stall_timeout: timedelta) -> ImageState:
    """Where one request stands: closed, answered, stalled or still waiting (until its deadline)."""
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
    deadline = current.started_at + stall_timeout
    if current.superseded is not None:  # the newer upload's announcement is on its way
        return ImageState(
            status=ImageStatus.PROCESSING,
            current=current,
            reason="the object was replaced by a newer upload",
            reason_code="superseded",
            deadline=deadline,
        )
    return ImageState(status=ImageStatus.PROCESSING, current=current, deadline=deadline)


def derive_state(events: Iterable[PipelineEvent], stall_timeout: timedelta) -> ImageState:
    """The image's status from every event recorded for it (order and duplicates do not matter).

    The image is its latest upload: other requests (edits) have statuses of their own and never
    change the image's; given only one edit's events, this is that edit's status.
    """
    ordered = _chronological(events)
    requests = list(_requests(ordered).values())
    uploads = [r for r in requests if r.request_type is EventType.IMAGE_UPLOADED]
    pool = uploads or requests
    if not pool:
        return _before_any_upload(ordered, stall_timeout)
    return _state_of(max(pool, key=lambda r: r.recency), stall_timeout)


@dataclass(frozen=True)
class Waiting:
    """Something the image still waits for, and until when: its upload (``request`` None), the
    responses to its current upload, or an edit's answer."""

    request: RequestState | None
    deadline: datetime


def waiting(events: Iterable[PipelineEvent], stall_timeout: timedelta) -> list[Waiting]:
    """Everything still open for the image, each with its own deadline (the sweeper's work list)."""
    ordered = _chronological(events)
    image = derive_state(ordered, stall_timeout)
    open_: list[Waiting] = []
    if image.deadline is not None:
        open_.append(Waiting(image.current, image.deadline))
    for request in _requests(ordered).values():
        if request.request_type is EventType.IMAGE_UPLOADED or request.request is None:
            continue
        state = _state_of(request, stall_timeout)
        if state.deadline is not None:
            open_.append(Waiting(request, state.deadline))
    return open_


def next_deadline(events: Iterable[PipelineEvent], stall_timeout: timedelta) -> datetime | None:
    """When the sweeper should look at the image next (None: nothing is open)."""
    return min((w.deadline for w in waiting(events, stall_timeout)), default=None)


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

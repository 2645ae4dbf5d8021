"""Reprocessing: bringing stored uploads' outputs to the current specs (``make reprocess``).

The ReprocessWorkflow (reprocess/template.yaml) lists the stored uploads and hands them to its item
function, which asks this module one question per stored object: are the outputs of its image's
latest upload (as the image log has it) made to the current version of the job's specs? If not, it
asks the job again: a ``ReprocessRequested`` (one per upload and spec version: its event id says
which, so asking twice is asking once), and the upload sent to the job's own queue the way the job
reads any upload, marked with that request. The job answers it like any request (``RenditionsCreated``
with the new ``specVersion``, or ``ImageRejected`` with its reason...), the tracker pairs the
answer, and the item function follows the request until it is settled.

A reprocess never changes the image's status (it is a request of its own, like an edit); the
image's outputs are the newest complete set made for its current upload (:func:`latest_answers`).
"""

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, Self
from urllib.parse import unquote_plus

from image_pipeline.catalogue import PAIRINGS, EventType, Job, job_answering
from image_pipeline.event_shapes import UnsupportedEvent
from image_pipeline.events import PipelineEvent
from image_pipeline.keys import image_id_for_key, is_upload_key
from image_pipeline.pairing import derive_state
from image_pipeline.ports import EventPublisher, ImageLog, JobFeed
from image_pipeline.uploads import UploadedObject, object_created

REPROCESS_PRODUCER = "ReprocessWorkflow"


def reprocessed_job() -> Job:
    """The job a reprocess asks again: the one whose answer ``ReprocessRequested`` expects."""
    (response,) = PAIRINGS[EventType.REPROCESS_REQUESTED]
    found = job_answering(response)
    if found is None:
        raise LookupError(f"no job answers {response}: the catalogue must pair ReprocessRequested with a job")
    return found


def request_id(upload_event_id: str, spec_version: str) -> str:
    """One request per upload (``<imageId>@<version>``) and spec version: asking again is a duplicate."""
    return f"reprocess:{upload_event_id}:{spec_version}"


class Outcome(StrEnum):
    """Where one stored object stands in a reprocess run."""

    CURRENT = "current"  # its outputs are made to the current specs already: nothing to do
    REQUESTED = "requested"  # asked again; the answer is awaited
    RENDERED = "rendered"  # answered at the current specs
    SUPERSEDED = "superseded"  # a newer upload replaced the object: the live pipeline makes its outputs
    IGNORED = "ignored"  # not an upload (a folder marker, a key outside uploads/)
    # the item fails with one of these, naming the reason
    UNREGISTERED = "unregistered"  # the image log has no upload of this object
    REJECTED = "rejected"  # the job refused the image (the usual ImageRejected, with its reason)
    FAILED = "failed"  # the job could not read the upload (ImageProcessingFailed)
    STALLED = "stalled"  # no answer in time
    SPEC_MISMATCH = "spec_mismatch"  # answered at other specs than this workflow asks for


FAILURES: frozenset[Outcome] = frozenset(
    {Outcome.UNREGISTERED, Outcome.REJECTED, Outcome.FAILED, Outcome.STALLED, Outcome.SPEC_MISMATCH}
)


@dataclass(frozen=True)
class Item:
    """One stored object of a run, as the workflow carries it from state to state (JSON)."""

    key: str
    outcome: Outcome
    image_id: str | None = None
    request: str | None = None  # the ReprocessRequested's event id, once asked
    since: str | None = None  # when this run started waiting for the answer (ISO 8601)
    reason: str | None = None  # a stable code, for a failure
    message: str | None = None  # a sentence for people

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v is not None} | {"outcome": self.outcome.value}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        return cls(
            key=str(data["key"]),
            outcome=Outcome(data["outcome"]),
            image_id=data.get("image_id"),
            request=data.get("request"),
            since=data.get("since"),
            reason=data.get("reason"),
            message=data.get("message"),
        )

    def settled_as(self, outcome: Outcome, reason: str | None = None, message: str | None = None) -> "Item":
        return Item(self.key, outcome, self.image_id, self.request, self.since, reason, message)


@dataclass(frozen=True)
class Decision:
    """What to do for one stored object: the item, and the request to record and send, if any."""

    item: Item
    request: PipelineEvent | None = None  # a new ReprocessRequested, to record and publish
    send: UploadedObject | None = None  # the upload to hand to the job again, marked with its request


def _stored_upload(uploaded: PipelineEvent) -> UploadedObject:
    data = uploaded.data
    return UploadedObject(
        bucket=str(data["bucket"]),
        key=str(data["key"]),
        sequencer=str(data["sequencer"]),
        size=data.get("size"),
        etag=data.get("etag"),
        uploaded_at=uploaded.occurred_at,
    )


def _latest_upload(events: Sequence[PipelineEvent], stall_timeout: timedelta) -> PipelineEvent | None:
    state = derive_state(events, stall_timeout)
    uploaded = state.current.request if state.current else None
    return uploaded if uploaded is not None and uploaded.type is EventType.IMAGE_UPLOADED else None


def _answers_to(upload: PipelineEvent, events: Iterable[PipelineEvent], response: EventType) -> list[PipelineEvent]:
    """The job's answers for one upload: to the upload itself, and to every reprocess of it."""
    events = list(events)
    requests = {upload.event_id} | {
        e.event_id for e in events if e.type is EventType.REPROCESS_REQUESTED and e.causation_id == upload.event_id
    }
    return [e for e in events if e.type is response and e.causation_id in requests]


def latest_answers(
    events: Sequence[PipelineEvent], upload: PipelineEvent | None, spec_versions: Mapping[str, str]
) -> dict[EventType, PipelineEvent]:
    """Each job's answer for the upload: the newest complete set of outputs, made to the current
    specs when there is one (a late answer at older specs never hides a current one)."""
    if upload is None:
        return {}
    chosen: dict[EventType, PipelineEvent] = {}
    for response in PAIRINGS[EventType.IMAGE_UPLOADED]:
        job = job_answering(response)
        current = spec_versions.get(job.name) if job else None
        answers = _answers_to(upload, events, response)
        if answers:
            chosen[response] = max(
                answers, key=lambda e: (current is not None and e.data.get("specVersion") == current, e.occurred_at)
            )
    return chosen


def listed_key(item: Mapping[str, Any]) -> str:
    """The object key of one listed item: ``s3:listObjectsV2`` gives it as is, an S3 Inventory
    report URL-encoded (its rows name the ``Bucket`` too)."""
    key = str(item["Key"])
    return unquote_plus(key) if "Bucket" in item else key


def decide(
    key: str,
    events: Sequence[PipelineEvent],
    *,
    spec_version: str,
    stall_timeout: timedelta,
    now: datetime,
    run: str,
) -> Decision:
    """What one stored object needs for its outputs to be made to ``spec_version``."""
    if not is_upload_key(key):
        return Decision(Item(key, Outcome.IGNORED, message=f"{key} is not an upload"))
    image_id = image_id_for_key(key)
    uploaded = _latest_upload(events, stall_timeout)
    if uploaded is None:
        message = f"the image log has no upload of {key}: upload it again (or replay its S3 event)"
        return Decision(Item(key, Outcome.UNREGISTERED, image_id, reason="unregistered", message=message))
    job = reprocessed_job()
    if any(a.data.get("specVersion") == spec_version for a in _answers_to(uploaded, events, job.response)):
        return Decision(Item(key, Outcome.CURRENT, image_id))
    asked = request_id(uploaded.event_id, spec_version)
    item = Item(key, Outcome.REQUESTED, image_id, asked, since=now.isoformat())
    if any(e.event_id == asked for e in events):  # asked before, by this run or another
        before = settle(item, events, spec_version=spec_version, answer_timeout=None, now=now)
        stalled = any(e.type is EventType.IMAGE_PROCESSING_STALLED and e.causation_id == asked for e in events)
        if before.outcome is Outcome.REQUESTED and stalled:  # its delivery was lost: ask the job again
            return Decision(item, send=_stored_upload(uploaded).model_copy(update={"answers": asked}))
        return Decision(before)
    previous = [a.data.get("specVersion") for a in _answers_to(uploaded, events, job.response)]
    request = PipelineEvent.new(
        EventType.REPROCESS_REQUESTED,
        image_id=image_id,
        producer=REPROCESS_PRODUCER,
        event_id=asked,
        causation_id=uploaded.event_id,
        occurred_at=now,
        data={
            "job": job.name,
            "upload": {"key": uploaded.data["key"], "version": uploaded.data["version"]},
            "specVersion": spec_version,
            "previousSpecVersion": next((str(v) for v in reversed(previous) if v), None),
            "run": run,
        },
    )
    return Decision(item, request=request, send=_stored_upload(uploaded).model_copy(update={"answers": asked}))


# What closes a request other than its answer: the outcome, and whether it names a reason.
_CLOSING: Mapping[EventType, Outcome] = {
    EventType.IMAGE_REJECTED: Outcome.REJECTED,
    EventType.IMAGE_PROCESSING_FAILED: Outcome.FAILED,
    EventType.UPLOAD_SUPERSEDED: Outcome.SUPERSEDED,
}


def _answered(item: Item, answer: PipelineEvent, spec_version: str) -> Item:
    made = answer.data.get("specVersion")
    if made == spec_version:
        return item.settled_as(Outcome.RENDERED)
    job = reprocessed_job()
    message = f"{job.function} made them to specs {made}, this workflow asks for {spec_version}"
    return item.settled_as(Outcome.SPEC_MISMATCH, "spec_mismatch", f"{message}: deploy both stacks from one build")


def _closed(item: Item, closing: PipelineEvent) -> Item:
    outcome = _CLOSING[closing.type]
    if outcome is Outcome.SUPERSEDED:  # not a failure: the newer upload is the live pipeline's
        return item.settled_as(outcome, message="a newer upload replaced the object")
    return item.settled_as(outcome, str(closing.data.get("reason") or outcome.value), closing.data.get("message"))


def settle(
    item: Item,
    events: Iterable[PipelineEvent],
    *,
    spec_version: str,
    answer_timeout: timedelta | None,
    now: datetime,
) -> Item:
    """Where a requested item stands now, from its request's events: answered, refused, replaced,
    stalled (nothing came within ``answer_timeout`` of the item's asking), or still awaited. The
    sweeper's stall does not end the wait: a late answer still completes a request."""
    if item.outcome is not Outcome.REQUESTED or item.request is None:
        return item
    mine = [e for e in events if item.request in {e.event_id, e.causation_id}]
    response = reprocessed_job().response
    if (answer := next((e for e in reversed(mine) if e.type is response), None)) is not None:
        return _answered(item, answer, spec_version)
    if (closing := next((e for e in mine if e.type in _CLOSING), None)) is not None:
        return _closed(item, closing)
    since = datetime.fromisoformat(item.since) if item.since else None
    if answer_timeout is not None and since is not None and now - since > answer_timeout:
        waited = round((now - since).total_seconds())
        return item.settled_as(Outcome.STALLED, "stalled", f"no {response.value} after {waited} s")
    return item


@dataclass(frozen=True)
class Progress:
    """The items of one workflow child (one item, or a batch), and what the workflow does next."""

    items: tuple[Item, ...]

    @property
    def pending(self) -> int:
        return sum(1 for i in self.items if i.outcome is Outcome.REQUESTED)

    @property
    def failed(self) -> tuple[Item, ...]:
        return tuple(i for i in self.items if i.outcome in FAILURES)

    def to_dict(self) -> dict[str, Any]:
        outcomes: dict[str, int] = {}
        for item in self.items:
            outcomes[item.outcome.value] = outcomes.get(item.outcome.value, 0) + 1
        cause = "; ".join(f"{i.key}: {i.reason} ({i.message})" for i in self.failed)[:32_000]
        return {
            "items": [i.to_dict() for i in self.items],
            "pending": self.pending,
            "failed": len(self.failed),
            "outcomes": outcomes,
            "cause": cause or None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        return cls(tuple(Item.from_dict(i) for i in data["items"]))


@dataclass(frozen=True)
class Reprocessor:
    """The item function's work, through its ports: ask for what is out of date, then follow it."""

    images: ImageLog
    publisher: EventPublisher
    feed: JobFeed  # the reprocessed job's queue
    spec_version: str  # the job's current specs
    stall_timeout: timedelta
    answer_timeout: timedelta

    def request(self, keys: Sequence[str], *, run: str, now: datetime) -> Progress:
        """Decide for each stored object, and ask the job again for those out of date.

        The uploads go to the queue first, then the requests are recorded and announced: a retry
        after a failure in between finds no request yet and does it all again (the job does the
        work once, its idempotency is per upload and spec version)."""
        decisions = [
            decide(
                key,
                self.images.events(image_id_for_key(key)) if is_upload_key(key) else [],
                spec_version=self.spec_version,
                stall_timeout=self.stall_timeout,
                now=now,
                run=run,
            )
            for key in keys
        ]
        uploads = [d.send for d in decisions if d.send is not None]
        if uploads:
            self.feed.send([object_created(u, answers=str(u.answers)) for u in uploads])
        requests = [d.request for d in decisions if d.request is not None]
        for request in requests:
            self.images.append(request)  # a GET right after finds it; the tracker records it once
        if requests:
            self.publisher.publish(requests)
        return Progress(tuple(d.item for d in decisions))

    def check(self, progress: Progress, *, now: datetime) -> Progress:
        """The items again, each requested one settled if its answer (or its end) has come."""
        return Progress(
            tuple(
                settle(
                    item,
                    self.images.events(item.image_id),
                    spec_version=self.spec_version,
                    answer_timeout=self.answer_timeout,
                    now=now,
                )
                if item.outcome is Outcome.REQUESTED and item.image_id
                else item
                for item in progress.items
            )
        )


ITEM_FUNCTION = "ReprocessItemFunction"
EXPECTED = (
    'the ReprocessWorkflow\'s steps: {"action": "request", "batch": <a listed object, or an ItemBatcher batch>}'
    ' or {"action": "check", "progress": <what "request" answered>}; or {"action": "specs"} (make reprocess)'
)


def step(event: Any, reprocessor: Reprocessor, *, now: datetime) -> dict[str, Any]:
    """One step of a workflow child: ``request`` (its item, or a batch of items), then ``check``
    until nothing is pending; or ``specs``, the spec version the deployed code asks for. Raises
    :class:`UnsupportedEvent` for anything else."""
    try:
        if event["action"] == "request":
            batch = event["batch"]
            entries = batch.get("Items", [batch])  # ItemBatcher's batch, or one item
            run = str(entries[0].get("run") or "") if entries else ""
            keys = [listed_key(entry["item"]) for entry in entries]
            return reprocessor.request(keys, run=run, now=now).to_dict()
        if event["action"] == "check":
            return reprocessor.check(Progress.from_dict(event["progress"]), now=now).to_dict()
        if event["action"] == "specs":  # what the deployed code asks for (make reprocess says it)
            return {"job": reprocessed_job().name, "specVersion": reprocessor.spec_version}
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise UnsupportedEvent(ITEM_FUNCTION, EXPECTED, event, problem=f"malformed: {exc!r}") from exc
    raise UnsupportedEvent(ITEM_FUNCTION, EXPECTED, event)

"""The pipeline's event graph, said once: every event type, who publishes it, the upload jobs and
the response each one owes, and the requests the tracker pairs with their responses.

Everything else derives from this module: the tracker's pairing (``image_pipeline.pairing``), the
owner checks of the tracker and of the hub (``image_pipeline.contracts``), the schemas' ``job``
enums, the image functions' operations (``image_pipeline.processing``) and metrics
(``image_pipeline.aws.observability``), the README's event table, and the tests that hold
template.yaml to it (each job's function and rule, each producer's ``events:PutEvents`` rights).
It imports nothing but the standard library, so the API, the tracker and the hub (which ship no
Pillow) read the same catalogue as the image functions.

Adding an upload job (README "Extending"): one ``EventType`` member for its answer and one ``Job``
here, its answer's schema in ``contracts/schemas``, its operation in ``processing.OPERATIONS``, its
handler, and its function in template.yaml.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

# The EventBridge source of every pipeline event (template.yaml: Mappings/Pipeline/Events/Source).
SOURCE = "image-pipeline"


class EventType(StrEnum):
    UPLOAD_REQUESTED = "UploadRequested"  # the API handed out an upload URL
    IMAGE_UPLOADED = "ImageUploaded"  # an object arrived under uploads/: the request every job answers
    THUMBNAIL_CREATED = "ThumbnailCreated"
    RENDITIONS_CREATED = "RenditionsCreated"
    IMAGE_ANALYZED = "ImageAnalyzed"
    IMAGE_RECOGNIZED = "ImageRecognized"  # labels, faces, moderation passed (a flagged image is rejected)
    IMAGE_REJECTED = "ImageRejected"  # the image itself is unacceptable: never retried
    IMAGE_PROCESSING_FAILED = "ImageProcessingFailed"  # the upload could not be read
    IMAGE_PROCESSING_STALLED = "ImageProcessingStalled"  # a response is overdue
    UPLOAD_SUPERSEDED = "UploadSuperseded"  # a newer upload replaced the object before a job read it
    UPLOAD_EXPIRED = "UploadExpired"  # the upload window closed with nothing uploaded
    EDIT_REQUESTED = "EditRequested"
    EDIT_COMPLETED = "EditCompleted"
    EDIT_REJECTED = "EditRejected"
    EDIT_FAILED = "EditFailed"
    # make reprocess asked for a stored upload's renditions again, at the current specs
    REPROCESS_REQUESTED = "ReprocessRequested"
    # The tracker's verdict, published on every change: what every consumer applies, never re-derives.
    IMAGE_STATUS_CHANGED = "ImageStatusChanged"
    EDIT_STATUS_CHANGED = "EditStatusChanged"  # the same for one edit (its own versions)
    # Receipts: what the requester was told (the push stack, push/template.yaml).
    STATUS_PUSHED = "StatusPushed"  # a status change went to the image's WebSocket watchers
    WEBHOOK_ATTEMPTED = "WebhookAttempted"  # a final status was POSTed to the image's callbackUrl


class ImageStatus(StrEnum):
    """What the tracker says of an image (of its latest upload); edits have statuses of their own."""

    PENDING = "PENDING"  # upload URL issued, nothing uploaded yet
    EXPIRED = "EXPIRED"  # the upload window closed with nothing uploaded
    PROCESSING = "PROCESSING"  # uploaded; responses still due
    COMPLETE = "COMPLETE"  # every expected response arrived
    REJECTED = "REJECTED"  # the image itself is unacceptable (reason given); never retried
    FAILED = "FAILED"  # processing could not happen (reason given)
    STALLED = "STALLED"  # a response is overdue (ImageProcessingStalled names it); a late one still completes it


# Nothing is awaited any more (a new upload to the same key starts over).
FINAL: frozenset[ImageStatus] = frozenset(
    {ImageStatus.COMPLETE, ImageStatus.REJECTED, ImageStatus.FAILED, ImageStatus.EXPIRED}
)
# Where a client stops waiting: final, or STALLED (an answer is overdue: a late one can still
# complete the image, but no longer soon).
SETTLED: frozenset[ImageStatus] = FINAL | {ImageStatus.STALLED}


class EditStatus(StrEnum):
    """What the tracker says of one edit of an image (``EditStatusChanged``)."""

    RUNNING = "RUNNING"  # requested; no answer yet
    COMPLETE = "COMPLETE"
    REJECTED = "REJECTED"  # the engine refused the image (reason given); never retried
    FAILED = "FAILED"  # a step failed (its cause given)
    STALLED = "STALLED"  # no answer in time (the sweeper said so); a late answer still counts


EDIT_FINAL: frozenset[EditStatus] = frozenset({EditStatus.COMPLETE, EditStatus.REJECTED, EditStatus.FAILED})


@dataclass(frozen=True)
class Job:
    """Work every upload gets: a function that answers ``ImageUploaded`` with ``response``."""

    name: str  # in metrics (dimension ``job``), in rejections and failures (``data.job``)
    function: str  # template.yaml's logical id of the function that runs it; also its producer name
    response: EventType
    # Fed through its own SQS queue in batches (a slow, heavy job) instead of invoked by its rule.
    queued: bool = False


JOBS: tuple[Job, ...] = (
    Job("thumbnail", "ThumbnailFunction", EventType.THUMBNAIL_CREATED),
    Job("renditions", "RenditionWorker", EventType.RENDITIONS_CREATED, queued=True),
    Job("analysis", "AnalyzeFunction", EventType.IMAGE_ANALYZED),
    Job("recognition", "RecognizeFunction", EventType.IMAGE_RECOGNIZED),
)

# What a job answers instead of its response when the upload cannot be processed.
JOB_OUTCOMES: frozenset[EventType] = frozenset(
    {EventType.IMAGE_REJECTED, EventType.IMAGE_PROCESSING_FAILED, EventType.UPLOAD_SUPERSEDED}
)


# Receipts are recorded under the image and shown in its trace, but they are never a request, a
# response or a closing event: telling the requester never changes what it was told.
RECEIPTS: frozenset[EventType] = frozenset({EventType.STATUS_PUSHED, EventType.WEBHOOK_ATTEMPTED})


@dataclass(frozen=True)
class Producer:
    """A name events are published under (``metadata.producer``) and the function that does it."""

    name: str
    # The function's logical id in its template (template.yaml, or push/template.yaml for the
    # receipts): its role may put exactly ``publishes`` on the app bus.
    function: str
    publishes: frozenset[EventType]
    # False: the producer only records its events in the image log, never on the bus, so its role
    # needs no events:PutEvents.
    on_bus: bool = True
    # The template that defines ``function`` (repository path): the app's, or a stack of its own.
    template: str = "template.yaml"


PRODUCERS: tuple[Producer, ...] = (
    *(Producer(job.function, job.function, frozenset({job.response}) | JOB_OUTCOMES) for job in JOBS),
    Producer("IntakeFunction", "IntakeFunction", frozenset({EventType.IMAGE_UPLOADED})),
    # The API records its requests in the image log itself (a GET right after the POST finds them)
    # and puts them on the bus too, for the tracker's verdicts and the hub.
    Producer("ApiFunction", "ApiFunction", frozenset({EventType.UPLOAD_REQUESTED, EventType.EDIT_REQUESTED})),
    Producer(
        "StallSweeper",
        "StallSweeperFunction",
        frozenset({EventType.IMAGE_PROCESSING_STALLED, EventType.UPLOAD_EXPIRED}),
    ),
    # The EditWorkflow's last step publishes the edit's outcome in the workflow's name.
    Producer(
        "EditWorkflow",
        "EditPublishFunction",
        frozenset({EventType.EDIT_COMPLETED, EventType.EDIT_REJECTED, EventType.EDIT_FAILED}),
    ),
    # make reprocess: the ReprocessWorkflow's item function, in a stack of its own.
    Producer(
        "ReprocessWorkflow",
        "ReprocessItemFunction",
        frozenset({EventType.REPROCESS_REQUESTED}),
        template="reprocess/template.yaml",
    ),
    Producer(
        "TrackerFunction",
        "TrackerFunction",
        frozenset({EventType.IMAGE_STATUS_CHANGED, EventType.EDIT_STATUS_CHANGED}),
    ),
    # The push stack: the notifier pushes status changes to WebSocket watchers, the webhook sender
    # POSTs final ones to callback URLs; each says so on the app bus.
    Producer(
        "NotifierFunction", "NotifierFunction", frozenset({EventType.STATUS_PUSHED}), template="push/template.yaml"
    ),
    Producer("WebhookSender", "WebhookSender", frozenset({EventType.WEBHOOK_ATTEMPTED}), template="push/template.yaml"),
)

# Each event type's contract version, as producers publish it today (``metadata.schemaVersion``
# absent means 1); its schema is ``contracts/schemas/<type>.v<version>.json``.
VERSIONS: Mapping[EventType, int] = dict.fromkeys(EventType, 1)

# request -> the responses it expects (an upload: one per job)
PAIRINGS: Mapping[EventType, frozenset[EventType]] = {
    EventType.IMAGE_UPLOADED: frozenset(job.response for job in JOBS),
    EventType.EDIT_REQUESTED: frozenset({EventType.EDIT_COMPLETED}),
    # a reprocess is the renditions job again (the queued one); like an edit, it has a status of
    # its own and never changes the image's
    EventType.REPROCESS_REQUESTED: frozenset({EventType.RENDITIONS_CREATED}),
}


def owners(event_type: EventType) -> frozenset[str]:
    """The producer names that may publish ``event_type``."""
    return frozenset(p.name for p in PRODUCERS if event_type in p.publishes)


def producer(name: str) -> Producer:
    found = next((p for p in PRODUCERS if p.name == name), None)
    if found is None:
        raise KeyError(f"no producer {name!r} in the catalogue")
    return found


def job(name: str) -> Job:
    found = next((j for j in JOBS if j.name == name), None)
    if found is None:
        raise KeyError(f"no job {name!r} in the catalogue")
    return found


def job_answering(response: EventType) -> Job | None:
    return next((j for j in JOBS if j.response is response), None)


def job_names() -> tuple[str, ...]:
    return tuple(j.name for j in JOBS)

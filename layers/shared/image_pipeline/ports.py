"""The ports domain code talks through. One AWS adapter each lives in ``image_pipeline.aws``;
tests use fakes that subclass these and pass the same contract tests."""

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from image_pipeline.edits import EditWorkflowInput
from image_pipeline.events import PipelineEvent


class ObjectMissing(LookupError):
    """The object is not (or no longer) in the bucket."""


class ObjectChanged(LookupError):
    """The object holds another version than the one asked for (it was overwritten since)."""


@dataclass(frozen=True)
class StoredObject:
    data: bytes
    content_type: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ObjectLocation:
    """Where an object is stored, down to the version (ETag) that was read."""

    bucket: str
    key: str
    etag: str | None = None


@dataclass(frozen=True)
class UploadImage:
    """An upload as a job reads it: the bytes, and where they are stored when known (a service
    such as Rekognition can read the object itself instead of being sent the bytes)."""

    data: bytes
    location: ObjectLocation | None = None
    content_type: str | None = None  # as declared by the uploader: never trusted for the format

    @property
    def size(self) -> int:
        return len(self.data)


@dataclass(frozen=True)
class ObjectInfo:
    """What S3 says about an object without reading it."""

    size: int
    etag: str  # without quotes
    content_type: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PresignedUpload:
    """A browser-ready presigned POST: send ``fields`` then the file as multipart form data."""

    url: str
    fields: dict[str, str]


class ObjectStore(ABC):
    @abstractmethod
    def get(self, bucket: str, key: str, *, etag: str | None = None) -> StoredObject:
        """The object's bytes. Raises :class:`ObjectMissing` when there is none, and
        :class:`ObjectChanged` when ``etag`` is given and the object no longer has it."""

    @abstractmethod
    def head(self, bucket: str, key: str) -> ObjectInfo:
        """The object's size, etag, type and metadata; raises :class:`ObjectMissing`."""

    @abstractmethod
    def put(self, bucket: str, key: str, data: bytes, *, content_type: str, metadata: Mapping[str, str]) -> None: ...

    @abstractmethod
    def presigned_upload(
        self,
        *,
        bucket: str,
        key: str,
        content_type: str,
        max_bytes: int,
        metadata: Mapping[str, str],
        expires_in: int,
    ) -> PresignedUpload:
        """A POST policy that accepts exactly this key, content type, metadata and size range.
        ``fields["policy"]`` is the base64 JSON policy document S3 checks."""

    @abstractmethod
    def download_url(self, bucket: str, key: str, *, expires_in: int) -> str: ...


class EventPublisher(ABC):
    @abstractmethod
    def publish(self, events: Sequence[PipelineEvent]) -> None:
        """Publish all events or raise: a partial publish is an error."""


@dataclass(frozen=True)
class ImageRecord:
    """What is known about an image before its events: how it came to be."""

    image_id: str
    filename: str
    content_type: str | None
    upload_key: str
    created_at: datetime
    origin: str = "api"  # "api" (POST /images) or "s3" (any other client writing under uploads/)
    callback_url: str | None = None  # where its final statuses are POSTed (webhooks), if anywhere


@dataclass(frozen=True)
class Announcement:
    """The latest status change of an image (or of one of its edits) as the tracker stored it, and
    whether it is out on the bus yet (stored first, then published: a retry publishes what a
    crash left unpublished)."""

    event: PipelineEvent  # an ImageStatusChanged (an EditStatusChanged for an edit)
    published: bool

    @property
    def version(self) -> int:
        return int(self.event.data["version"])


@dataclass(frozen=True)
class ImagePage:
    images: list[ImageRecord]
    cursor: str | None  # pass back to get the next page; None on the last one


class ImageLog(ABC):
    """The images table: one record per image plus every event recorded against it."""

    @abstractmethod
    def create_image(self, record: ImageRecord, first_event: PipelineEvent) -> None:
        """Store a new record and its first event together."""

    @abstractmethod
    def ensure_image(self, record: ImageRecord) -> bool:
        """Store the record unless the image has one already; True when it was stored."""

    @abstractmethod
    def get_image(self, image_id: str) -> ImageRecord | None: ...

    @abstractmethod
    def list_images(self, *, limit: int, cursor: str | None = None) -> ImagePage:
        """Images newest first, a page at a time. Raises ValueError for a cursor it did not issue."""

    @abstractmethod
    def append(self, event: PipelineEvent) -> bool:
        """Record an event once; False when this event id was already recorded."""

    @abstractmethod
    def events(self, image_id: str) -> list[PipelineEvent]:
        """Every event recorded for the image, oldest first."""

    @abstractmethod
    def set_deadline(self, image_id: str, deadline: datetime | None, *, seen: int) -> None:
        """Mark the image open until ``deadline`` (None: no longer open), as derived from a read of
        ``seen`` events. A write from a read of fewer events than the last write's changes nothing."""

    @abstractmethod
    def look_by(self, image_id: str, deadline: datetime) -> None:
        """Have the sweeper look at the image by ``deadline``: an earlier deadline is kept, a later
        one (or none) is brought forward. Needs no read, so a tracker makes it before reading the
        image's events: if it dies then, the wait it recorded is still looked at in time."""

    @abstractmethod
    def overdue(self, now: datetime, limit: int = 1000) -> list[str]:
        """Ids of open images whose deadline is at or before ``now``, the longest overdue first
        (every page, up to ``limit``)."""

    @abstractmethod
    def announcement(self, image_id: str, edit_id: str | None = None) -> Announcement | None:
        """The image's latest stored status change, or its edit's (None: none yet)."""

    @abstractmethod
    def announce(self, change: PipelineEvent, *, replaces: int) -> bool:
        """Store the next status change of the image, or of the edit an EditStatusChanged names
        (``data.editId``), unpublished, if the stored one still has version ``replaces`` (0: there
        is none); False when another writer stored one first. An image and each of its edits
        count their versions apart."""

    @abstractmethod
    def mark_published(self, image_id: str, version: int, edit_id: str | None = None) -> None:
        """Note that the status change of this version (of the image, or of the edit) is out on the bus."""

    @abstractmethod
    def claim(self, image_id: str, claim_id: str) -> bool:
        """Claim an open image's overdue verdict once: True for the first caller with this
        ``claim_id``, False for every later one (overlapping sweeps report a stall once)."""


class EditStarter(ABC):
    """Starts the EditWorkflow for an edit, at most once per edit id."""

    @abstractmethod
    def start(self, edit: EditWorkflowInput) -> str:
        """Start the edit's workflow and return its execution id; starting the same edit again
        starts nothing and returns the same id."""


class JobFeed(ABC):
    """A queued job's feed (its SQS queue): uploads handed to the job as it reads any upload."""

    @abstractmethod
    def send(self, messages: Sequence[Mapping[str, Any]]) -> None:
        """Send every message (a JSON object) or raise: a partial send is an error."""

"""The ports domain code talks through. One AWS adapter each lives in ``image_pipeline.aws``;
tests use fakes that subclass these and pass the same contract tests."""

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from image_pipeline.edits import EditWorkflowInput
from image_pipeline.events import PipelineEvent


class ObjectMissing(LookupError):
    """The object is not (or no longer) in the bucket."""


@dataclass(frozen=True)
class StoredObject:
    data: bytes
    content_type: str | None = None
    metadata: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class PresignedUpload:
    """A browser-ready presigned POST: send ``fields`` then the file as multipart form data."""

    url: str
    fields: dict[str, str]


class ObjectStore(ABC):
    @abstractmethod
    def get(self, bucket: str, key: str) -> StoredObject:
        """The object's bytes; raises :class:`ObjectMissing` when there is none."""

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
        """A POST policy that accepts exactly this key, content type, metadata and size range."""

    @abstractmethod
    def download_url(self, bucket: str, key: str, *, expires_in: int) -> str: ...


class EventPublisher(ABC):
    @abstractmethod
    def publish(self, events: Sequence[PipelineEvent]) -> None:
        """Publish all events or raise: a partial publish is an error."""


@dataclass(frozen=True)
class ImageRecord:
    """What the API knows about an image before any event: who asked for it and how."""

    image_id: str
    filename: str
    content_type: str
    upload_key: str
    created_at: datetime


class ImageLog(ABC):
    """The images table: one record per image plus every event recorded against it."""

    @abstractmethod
    def create_image(self, record: ImageRecord, first_event: PipelineEvent) -> None:
        """Store the record and its first event together."""

    @abstractmethod
    def get_image(self, image_id: str) -> ImageRecord | None: ...

    @abstractmethod
    def append(self, event: PipelineEvent) -> bool:
        """Record an event once; False when this event id was already recorded."""

    @abstractmethod
    def events(self, image_id: str) -> list[PipelineEvent]:
        """Every event recorded for the image, oldest first."""

    @abstractmethod
    def set_deadline(self, image_id: str, deadline: datetime | None) -> None:
        """Mark the image open until ``deadline`` (None: no longer open)."""

    @abstractmethod
    def overdue(self, now: datetime, limit: int = 100) -> list[str]:
        """Ids of open images whose deadline is at or before ``now``."""


class EditStarter(ABC):
    """Starts the EditWorkflow for an edit, at most once per edit id."""

    @abstractmethod
    def start(self, edit: EditWorkflowInput) -> str:
        """Start the edit's workflow and return its execution id; starting the same edit again
        starts nothing and returns the same id."""

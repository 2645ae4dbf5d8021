"""In-memory fakes of the ports. They subclass the real ports and pass the same contract tests
as the AWS adapters (tests/unit/test_ports_contract.py), so they cannot drift."""

from collections.abc import Mapping, Sequence
from datetime import datetime

from image_pipeline.edits import EditWorkflowInput
from image_pipeline.events import PipelineEvent
from image_pipeline.ports import (
    EditStarter,
    EventPublisher,
    ImageLog,
    ImageRecord,
    ObjectMissing,
    ObjectStore,
    PresignedUpload,
    StoredObject,
)


class InMemoryObjectStore(ObjectStore):
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], StoredObject] = {}
        self.puts = 0

    def get(self, bucket: str, key: str) -> StoredObject:
        try:
            return self.objects[bucket, key]
        except KeyError:
            raise ObjectMissing(f"s3://{bucket}/{key} does not exist") from None

    def put(self, bucket: str, key: str, data: bytes, *, content_type: str, metadata: Mapping[str, str]) -> None:
        self.puts += 1
        self.objects[bucket, key] = StoredObject(data, content_type, dict(metadata))

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
        fields = {
            "key": key,
            "Content-Type": content_type,
            **{f"x-amz-meta-{k}": v for k, v in metadata.items()},
            "policy": f"max={max_bytes};expires={expires_in}",
        }
        return PresignedUpload(url=f"https://{bucket}.example/", fields=fields)

    def download_url(self, bucket: str, key: str, *, expires_in: int) -> str:
        return f"https://{bucket}.example/{key}?expires={expires_in}"


class RecordingPublisher(EventPublisher):
    def __init__(self) -> None:
        self.published: list[PipelineEvent] = []

    def publish(self, events: Sequence[PipelineEvent]) -> None:
        self.published.extend(events)

    def types(self) -> list[str]:
        return [e.type.value for e in self.published]


class InMemoryImageLog(ImageLog):
    def __init__(self) -> None:
        self.images: dict[str, ImageRecord] = {}
        self.recorded: dict[str, dict[str, PipelineEvent]] = {}
        self.deadlines: dict[str, datetime] = {}

    def create_image(self, record: ImageRecord, first_event: PipelineEvent) -> None:
        if record.image_id in self.images:
            raise ValueError(f"image {record.image_id} exists")
        self.images[record.image_id] = record
        self.append(first_event)

    def get_image(self, image_id: str) -> ImageRecord | None:
        return self.images.get(image_id)

    def append(self, event: PipelineEvent) -> bool:
        events = self.recorded.setdefault(event.image_id, {})
        if event.event_id in events:
            return False
        events[event.event_id] = event
        return True

    def events(self, image_id: str) -> list[PipelineEvent]:
        return sorted(self.recorded.get(image_id, {}).values(), key=lambda e: (e.occurred_at, e.event_id))

    def set_deadline(self, image_id: str, deadline: datetime | None) -> None:
        if deadline is None:
            self.deadlines.pop(image_id, None)
        else:
            self.deadlines[image_id] = deadline

    def overdue(self, now: datetime, limit: int = 100) -> list[str]:
        return sorted(i for i, d in self.deadlines.items() if d <= now)[:limit]


class RecordingEditStarter(EditStarter):
    """Starts nothing; remembers each edit once, as a workflow named by the edit id would."""

    def __init__(self) -> None:
        self.started: dict[str, EditWorkflowInput] = {}  # by execution id

    def start(self, edit: EditWorkflowInput) -> str:
        execution_id = f"fake-execution:{edit.edit_id}"
        self.started.setdefault(execution_id, edit)
        return execution_id

    def executions(self) -> list[str]:
        return sorted(self.started)

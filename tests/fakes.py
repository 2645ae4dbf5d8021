"""In-memory fakes of the ports. They subclass the real ports and pass the same contract tests
as the AWS adapters (tests/unit/test_ports_contract.py), so they cannot drift."""

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from image_pipeline.edits import EditWorkflowInput
from image_pipeline.events import PipelineEvent
from image_pipeline.imaging import ImageLimits
from image_pipeline.ports import (
    Announcement,
    EditStarter,
    EventPublisher,
    ImageLog,
    ImagePage,
    ImageRecord,
    JobFeed,
    ObjectChanged,
    ObjectInfo,
    ObjectMissing,
    ObjectStore,
    PresignedUpload,
    StoredObject,
    UploadImage,
)
from image_pipeline.recognition import Findings, Recognizer


def _etag(data: bytes) -> str:
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


class InMemoryObjectStore(ObjectStore):
    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], StoredObject] = {}
        self.puts = 0

    def get(self, bucket: str, key: str, *, etag: str | None = None) -> StoredObject:
        try:
            stored = self.objects[bucket, key]
        except KeyError:
            raise ObjectMissing(f"s3://{bucket}/{key} does not exist") from None
        if etag is not None and _etag(stored.data) != etag.strip('"'):
            raise ObjectChanged(f"s3://{bucket}/{key} no longer has ETag {etag}")
        return stored

    def head(self, bucket: str, key: str) -> ObjectInfo:
        stored = self.get(bucket, key)
        return ObjectInfo(len(stored.data), _etag(stored.data), stored.content_type, dict(stored.metadata))

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
        # The same policy document S3 would check (unsigned): the contract reads its conditions.
        meta = {f"x-amz-meta-{k}": v for k, v in metadata.items()}
        expiration = datetime.now(UTC) + timedelta(seconds=expires_in)
        policy = {
            "expiration": expiration.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "conditions": [
                {"bucket": bucket},
                {"key": key},
                ["content-length-range", 1, max_bytes],
                {"Content-Type": content_type},
                *({name: value} for name, value in meta.items()),
            ],
        }
        fields = {
            "key": key,
            "Content-Type": content_type,
            **meta,
            "policy": base64.b64encode(json.dumps(policy).encode()).decode(),
        }
        return PresignedUpload(url=f"https://{bucket}.s3.amazonaws.com/", fields=fields)

    def download_url(self, bucket: str, key: str, *, expires_in: int) -> str:
        return f"https://{bucket}.s3.amazonaws.com/{key}?X-Amz-Expires={expires_in}&X-Amz-Signature=fake"


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
        self.deadline_seen: dict[str, int] = {}  # how many events the last deadline was derived from
        self.claims: set[tuple[str, str]] = set()
        self.announcements: dict[tuple[str, str | None], Announcement] = {}  # (image, edit or None)

    def create_image(self, record: ImageRecord, first_event: PipelineEvent) -> None:
        if record.image_id in self.images:
            raise ValueError(f"image {record.image_id} exists")
        self.images[record.image_id] = record
        self.append(first_event)

    def ensure_image(self, record: ImageRecord) -> bool:
        if record.image_id in self.images:
            return False
        self.images[record.image_id] = record
        return True

    def get_image(self, image_id: str) -> ImageRecord | None:
        return self.images.get(image_id)

    def list_images(self, *, limit: int, cursor: str | None = None) -> ImagePage:
        ordered = sorted(self.images.values(), key=lambda r: (r.created_at, r.image_id), reverse=True)
        start = 0
        if cursor is not None:
            ids = [r.image_id for r in ordered]
            if cursor not in ids:
                raise ValueError("cursor is not one this API issued: pass back nextCursor unchanged")
            start = ids.index(cursor) + 1
        page = ordered[start : start + limit]
        more = start + limit < len(ordered)
        return ImagePage(images=page, cursor=page[-1].image_id if page and more else None)

    def append(self, event: PipelineEvent) -> bool:
        events = self.recorded.setdefault(event.image_id, {})
        if event.event_id in events:
            return False
        events[event.event_id] = event
        return True

    def events(self, image_id: str) -> list[PipelineEvent]:
        return sorted(self.recorded.get(image_id, {}).values(), key=lambda e: (e.occurred_at, e.event_id))

    def set_deadline(self, image_id: str, deadline: datetime | None, *, seen: int) -> None:
        if self.deadline_seen.get(image_id, seen) > seen:
            return  # a view of more events already set it
        self.deadline_seen[image_id] = seen
        if deadline is None:
            self.deadlines.pop(image_id, None)
        else:
            self.deadlines[image_id] = deadline

    def look_by(self, image_id: str, deadline: datetime) -> None:
        if self.deadlines.get(image_id, deadline) >= deadline:
            self.deadlines[image_id] = deadline

    def overdue(self, now: datetime, limit: int = 1000) -> list[str]:
        due = sorted((d, i) for i, d in self.deadlines.items() if d <= now)
        return [i for _, i in due][:limit]

    def announcement(self, image_id: str, edit_id: str | None = None) -> Announcement | None:
        return self.announcements.get((image_id, edit_id))

    def announce(self, change: PipelineEvent, *, replaces: int) -> bool:
        key = (change.image_id, change.data.get("editId"))
        current = self.announcements.get(key)
        if (current.version if current else 0) != replaces:
            return False
        self.announcements[key] = Announcement(change, published=False)
        return True

    def mark_published(self, image_id: str, version: int, edit_id: str | None = None) -> None:
        current = self.announcements.get((image_id, edit_id))
        if current is not None and current.version == version:
            self.announcements[image_id, edit_id] = Announcement(current.event, published=True)

    def claim(self, image_id: str, claim_id: str) -> bool:
        if (image_id, claim_id) in self.claims:
            return False
        self.claims.add((image_id, claim_id))
        return True


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


class CannedRecognizer(Recognizer):
    """Answers every image with the same findings, reading none of it (as ``off`` does);
    remembers what it was shown."""

    def __init__(self, findings: Findings) -> None:
        self.findings = findings
        self.backend = findings.backend
        self.seen: list[UploadImage] = []

    def recognize(self, image: UploadImage, limits: ImageLimits) -> Findings:
        self.seen.append(image)
        return self.findings


class RecordingFeed(JobFeed):
    """A queued job's feed that keeps what it was sent (each message as the JSON body SQS carries)."""

    def __init__(self) -> None:
        self.bodies: list[str] = []

    def send(self, messages: Sequence[Mapping[str, Any]]) -> None:
        self.bodies.extend(json.dumps(m) for m in messages)

    def sent(self) -> list[dict[str, Any]]:
        return [json.loads(body) for body in self.bodies]

"""Registering an upload: whoever wrote the object, it becomes an image with a record and an
``ImageUploaded`` event on the app bus (the request every processor's response answers)."""

import logging
from dataclasses import dataclass
from pathlib import PurePosixPath

from image_pipeline.events import EventType, PipelineEvent
from image_pipeline.ports import EventPublisher, ImageLog, ImageRecord, ObjectInfo, ObjectMissing, ObjectStore
from image_pipeline.uploads import UploadedObject

INTAKE_PRODUCER = "IntakeFunction"

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Intake:
    store: ObjectStore
    images: ImageLog
    publisher: EventPublisher

    def _head(self, upload: UploadedObject) -> tuple[UploadedObject, ObjectInfo | None]:
        for candidate in (upload, upload.with_decoded_key()):
            if candidate is None:
                continue
            try:
                return candidate, self.store.head(candidate.bucket, candidate.key)
            except ObjectMissing:
                continue
        return upload, None  # gone already: the processors will report it FAILED

    def register(self, upload: UploadedObject) -> PipelineEvent:
        upload, info = self._head(upload)
        # A HEAD that answers another ETag describes a newer upload, not this one.
        current = info if info is not None and (upload.etag is None or info.etag == upload.etag) else None
        content_type = current.content_type if current else None
        mine = ImageRecord(
            image_id=upload.image_id,
            filename=PurePosixPath(upload.key).name,
            content_type=content_type,
            upload_key=upload.key,
            created_at=upload.uploaded_at,
            origin="s3",
        )
        created = self.images.ensure_image(mine)
        # Read the record back only when another one was there first (e.g. the API's, with its filename).
        record = mine if created else self.images.get_image(upload.image_id)
        event = PipelineEvent.new(
            EventType.IMAGE_UPLOADED,
            image_id=upload.image_id,
            producer=INTAKE_PRODUCER,
            event_id=upload.upload_id,
            occurred_at=upload.uploaded_at,
            data={
                "bucket": upload.bucket,
                "key": upload.key,
                "version": upload.version,
                "sequencer": upload.sequencer,
                "size": current.size if current else upload.size,
                "etag": upload.etag,
                "contentType": content_type,
                "filename": record.filename if record else PurePosixPath(upload.key).name,
            },
        )
        self.publisher.publish([event])
        log.info("registered %s (%s)", upload.key, "new image" if created else "new upload of a known image")
        return event

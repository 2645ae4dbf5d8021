"""Answering an upload: read it, do one job, write the outputs, publish exactly one event.

The image functions differ only in their job (``image_pipeline.catalogue.JOBS``) and the job's
operation here (``OPERATIONS``, by job name). Whatever happens, the tracker hears about it: the
job's response event, ``ImageRejected`` (the image itself is bad: never
retried), ``ImageProcessingFailed`` (the upload vanished) or ``UploadSuperseded`` (a newer
upload replaced the object before the job could read it: the job reads exactly the announced
version, by its ETag, or nothing). Anything else raises, so Lambda retries it and, in the end,
parks it in a DLQ. Outputs are stored per upload (``outputs/<imageId>/<version>/``), so two
uploads to one key never mix their files.
"""

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from image_pipeline.catalogue import Job
from image_pipeline.events import EventType, PipelineEvent
from image_pipeline.imaging import (
    PREVIEWS,
    THUMBNAIL,
    WEB_RENDITIONS,
    ImageLimits,
    ImageRejected,
    Rendition,
    analyze,
    render,
)
from image_pipeline.keys import output_key
from image_pipeline.ports import EventPublisher, ObjectChanged, ObjectMissing, ObjectStore, StoredObject
from image_pipeline.uploads import UploadedObject

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobResult:
    renditions: Sequence[Rendition] = ()
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Source:
    """What a job reads: the upload's bytes and, for an operation that hands the stored object to
    a service instead, which upload they are (None for bytes from elsewhere, e.g. a benchmark)."""

    data: bytes
    upload: UploadedObject | None = None
    content_type: str | None = None


# What each job does with an upload (pure image work, no AWS), by the catalogue's job name.
Operation = Callable[[Source, ImageLimits], JobResult]
OPERATIONS: Mapping[str, Operation] = {
    "thumbnail": lambda source, limits: JobResult(renditions=render(source.data, [THUMBNAIL], limits)),
    "renditions": lambda source, limits: JobResult(
        renditions=render(source.data, [*WEB_RENDITIONS, *PREVIEWS], limits)
    ),
    "analysis": lambda source, limits: JobResult(data={"analysis": analyze(source.data, limits)}),
}


@dataclass(frozen=True)
class UploadResponder:
    store: ObjectStore
    publisher: EventPublisher
    outputs_bucket: str
    limits: ImageLimits
    producer: str
    # The operation of each job; a function whose operation needs its deployment's choices (the
    # recognition backend and threshold) passes its own.
    operations: Mapping[str, Operation] = field(default_factory=lambda: OPERATIONS)

    def respond(self, upload: UploadedObject, job: Job) -> PipelineEvent:
        event = self._outcome(upload, job)
        self.publisher.publish([event])
        log.info("%s for %s", event.type, upload.image_id, extra={"event_type": event.type})
        return event

    def _event(self, upload: UploadedObject, event_type: EventType, data: dict[str, Any]) -> PipelineEvent:
        return PipelineEvent.new(
            event_type,
            image_id=upload.image_id,
            producer=self.producer,
            causation_id=upload.upload_id,
            data=data,
        )

    def _read(self, upload: UploadedObject) -> tuple[UploadedObject, StoredObject]:
        try:
            return upload, self.store.get(upload.bucket, upload.key, etag=upload.etag)
        except ObjectMissing:
            if (decoded := upload.with_decoded_key()) is None:
                raise
            return decoded, self.store.get(decoded.bucket, decoded.key, etag=decoded.etag)

    def _outcome(self, upload: UploadedObject, job: Job) -> PipelineEvent:
        try:
            upload, source = self._read(upload)
        except ObjectMissing as exc:
            return self._event(
                upload,
                EventType.IMAGE_PROCESSING_FAILED,
                {"reason": "source_missing", "message": str(exc), "job": job.name},
            )
        except ObjectChanged as exc:
            log.info("upload %s was replaced before %s read it", upload.upload_id, job.name)
            return self._event(upload, EventType.UPLOAD_SUPERSEDED, {"message": str(exc), "job": job.name})
        try:
            result = self.operations[job.name](Source(source.data, upload, source.content_type), self.limits)
        except ImageRejected as exc:
            log.warning("rejected %s: %s", upload.image_id, exc, extra={"reason": exc.reason})
            return self._event(
                upload,
                EventType.IMAGE_REJECTED,
                {**exc.details, "reason": exc.reason, "message": str(exc), "job": job.name},
            )
        stored: dict[str, dict[str, Any]] = {}
        for rendition in result.renditions:
            if rendition.same_as in stored:  # the same bytes as an earlier output: one object serves both
                stored[rendition.name] = {
                    **stored[rendition.same_as],
                    "name": rendition.name,
                    "sameAs": rendition.same_as,
                }
            else:
                stored[rendition.name] = self._store(upload, rendition)
        outputs = list(stored.values())
        data = dict(result.data)
        if outputs:
            data["outputs"] = outputs
        return self._event(upload, job.response, data)

    def _store(self, upload: UploadedObject, rendition: Rendition) -> dict[str, Any]:
        key = output_key(upload.image_id, upload.version, rendition.name, rendition.extension)
        self.store.put(
            self.outputs_bucket,
            key,
            rendition.data,
            content_type=rendition.media_type,
            metadata={"image-id": upload.image_id},
        )
        return {
            "name": rendition.name,
            "key": key,
            "format": rendition.format,
            "mediaType": rendition.media_type,
            "width": rendition.width,
            "height": rendition.height,
            "bytes": len(rendition.data),
        }

"""The image functions' AWS wiring: real adapters from settings, and idempotency per upload."""

from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from image_pipeline.aws.eventbridge import EventBridgePublisher
from image_pipeline.aws.observability import measured
from image_pipeline.aws.s3 import S3ObjectStore
from image_pipeline.imaging import ImageLimits
from image_pipeline.processing import Job, UploadResponder
from image_pipeline.settings import ProcessorSettings
from image_pipeline.uploads import UploadedObject, parse_uploads

if TYPE_CHECKING:
    from collections.abc import Callable

# One upload = one object version: a duplicate delivery of it does no duplicate work.
UPLOAD_IDENTITY = "[bucket, key, sequencer]"
IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600


def upload_responder(settings: ProcessorSettings, producer: str) -> UploadResponder:
    store, publisher = measured(S3ObjectStore(), EventBridgePublisher(settings.app_bus_name, settings.event_source))
    return UploadResponder(
        store=store,
        publisher=publisher,
        outputs_bucket=settings.images_bucket,
        limits=ImageLimits(
            max_pixels=settings.max_image_pixels,
            max_side=settings.max_image_side,
            max_frames=settings.max_animation_frames,
        ),
        producer=producer,
    )


class IdempotentJob:
    """Runs a job at most once per upload (Powertools idempotency, keyed on the object version)."""

    def __init__(self, job: Job, table_name: str) -> None:
        self.config = IdempotencyConfig(
            event_key_jmespath=UPLOAD_IDENTITY,
            raise_on_no_idempotency_key=True,
            expires_after_seconds=IDEMPOTENCY_WINDOW_SECONDS,
        )
        persistence = DynamoDBPersistenceLayer(table_name=table_name)

        def respond(upload: UploadedObject, responder: UploadResponder) -> dict[str, str]:
            event = responder.respond(upload, job)
            return {"imageId": event.image_id, "type": event.type.value, "eventId": event.event_id}

        decorate = idempotent_function(
            data_keyword_argument="upload", persistence_store=persistence, config=self.config
        )
        self._respond: Callable[..., dict[str, Any]] = decorate(respond)

    def __call__(self, upload: UploadedObject, responder: UploadResponder) -> dict[str, Any]:
        return self._respond(upload=upload, responder=responder)


def answer_uploads(
    event: Any, function: str, job: IdempotentJob, responder: UploadResponder, logger: Logger
) -> dict[str, Any]:
    """Run ``job`` once for every upload ``event`` announces in the images bucket, which holds
    the uploads and their outputs (raises UnsupportedEvent for anything but an S3 event)."""
    announced = parse_uploads(event, function=function, bucket=responder.outputs_bucket)
    ignored = announced.report_ignored()
    results = []
    for upload in announced.uploads:
        logger.set_correlation_id(upload.image_id)
        logger.info("answering upload %s", upload.upload_id, extra={"key": upload.key})
        results.append(job(upload, responder))
    return {"results": results, "ignored": ignored}

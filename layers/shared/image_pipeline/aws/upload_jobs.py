"""The image functions' AWS wiring: real adapters from settings, and idempotency per upload."""

from functools import cached_property
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from image_pipeline import catalogue
from image_pipeline.aws.eventbridge import EventBridgePublisher
from image_pipeline.aws.observability import measured
from image_pipeline.aws.s3 import S3ObjectStore
from image_pipeline.catalogue import Job
from image_pipeline.event_shapes import UnsupportedEvent
from image_pipeline.imaging import ImageLimits
from image_pipeline.processing import OPERATIONS, UploadResponder
from image_pipeline.settings import ProcessorSettings
from image_pipeline.uploads import UploadedObject, parse_uploads

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from aws_lambda_powertools.utilities.typing import LambdaContext

    from image_pipeline.processing import Operation

# One upload = one object version: a duplicate delivery of it does no duplicate work.
UPLOAD_IDENTITY = "[bucket, key, sequencer]"
IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600


def upload_responder(
    settings: ProcessorSettings, producer: str, operations: "Mapping[str, Operation]" = OPERATIONS
) -> UploadResponder:
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
        operations=operations,
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
    """Run ``job`` once for every upload ``event`` announces (raises UnsupportedEvent for
    anything but an S3 event)."""
    announced = parse_uploads(event, function=function)
    ignored = announced.report_ignored()
    results = []
    for upload in announced.uploads:
        logger.set_correlation_id(upload.image_id)
        logger.info("answering upload %s", upload.upload_id, extra={"key": upload.key})
        results.append(job(upload, responder))
    return {"results": results, "ignored": ignored}


class JobRunner:
    """A job of the catalogue as its function runs it: once per upload, answering with the job's
    response (or a rejection, a failure, a supersession), with AWS adapters made at first use.
    Tests pass their own responder. A job whose operation depends on the deployment (recognition:
    its backend and threshold) is given ``operations`` with it."""

    def __init__(
        self, name: str, settings: ProcessorSettings, logger: Logger, operations: "Mapping[str, Operation]" = OPERATIONS
    ) -> None:
        self.job = catalogue.job(name)
        self.settings = settings
        self.logger = logger
        self.operations = operations
        self.idempotent = IdempotentJob(self.job, settings.idempotency_table)

    @cached_property
    def aws_responder(self) -> UploadResponder:
        return upload_responder(self.settings, producer=self.job.function, operations=self.operations)

    def run(self, event: Any, responder: UploadResponder | None = None) -> dict[str, Any]:
        """Answer every upload the S3 event announces (raises UnsupportedEvent for anything else)."""
        return answer_uploads(event, self.job.function, self.idempotent, responder or self.aws_responder, self.logger)

    def answer(self, event: Any, context: "LambdaContext", responder: UploadResponder | None = None) -> dict[str, Any]:
        """A direct invocation: any event a function of a job can be sent gets an answer, never a
        traceback (what it expected and what it got, for anything but an S3 event)."""
        self.idempotent.config.register_lambda_context(context)
        try:
            return self.run(event, responder)
        except UnsupportedEvent as exc:
            self.logger.error(str(exc))
            return exc.result()

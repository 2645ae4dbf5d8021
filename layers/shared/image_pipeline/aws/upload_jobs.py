"""The image functions' AWS wiring: real adapters from settings, and idempotency per upload and
version of the job's specs."""

from functools import cached_property
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from pydantic import BaseModel, ConfigDict

from image_pipeline import catalogue
from image_pipeline.aws.eventbridge import EventBridgePublisher
from image_pipeline.aws.observability import measured
from image_pipeline.aws.s3 import S3ObjectStore
from image_pipeline.catalogue import EventType, Job
from image_pipeline.event_shapes import UnsupportedEvent
from image_pipeline.imaging import ImageLimits
from image_pipeline.processing import OPERATIONS, UploadResponder
from image_pipeline.settings import ProcessorSettings
from image_pipeline.uploads import UploadedObject, parse_uploads

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from aws_lambda_powertools.utilities.typing import LambdaContext

    from image_pipeline.processing import Operation

# One piece of work = one object version made to one version of the job's specs: a duplicate
# delivery does no duplicate work, a reprocess at new specs does it again, and a live upload and a
# reprocess of it at the same specs do it once.
WORK_IDENTITY = "[upload.bucket, upload.key, upload.sequencer, spec_version]"
IDEMPOTENCY_WINDOW_SECONDS = 24 * 3600


class Work(BaseModel):
    """What a job is idempotent on."""

    model_config = ConfigDict(frozen=True)

    upload: UploadedObject
    spec_version: str | None  # the job's (None: a job without specs, e.g. analysis)


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
    """Runs a job at most once per upload and spec version (Powertools idempotency, keyed on the
    object version and the job's spec version), and answers every request for that work."""

    def __init__(self, job: Job, table_name: str) -> None:
        self.job = job
        self.config = IdempotencyConfig(
            event_key_jmespath=WORK_IDENTITY,
            raise_on_no_idempotency_key=True,
            expires_after_seconds=IDEMPOTENCY_WINDOW_SECONDS,
        )
        persistence = DynamoDBPersistenceLayer(table_name=table_name)

        def respond(work: Work, responder: UploadResponder) -> dict[str, Any]:
            event = responder.respond(work.upload, job)
            # kept whole, so another request for the same work can be answered with it
            return {
                "imageId": event.image_id,
                "type": event.type.value,
                "eventId": event.event_id,
                "causationId": event.causation_id,
                "data": event.data,
            }

        decorate = idempotent_function(data_keyword_argument="work", persistence_store=persistence, config=self.config)
        self._respond: Callable[..., dict[str, Any]] = decorate(respond)

    def __call__(self, upload: UploadedObject, responder: UploadResponder) -> dict[str, Any]:
        work = Work(upload=upload, spec_version=responder.spec_versions.get(self.job.name))
        done = self._respond(work=work, responder=responder)
        if done.get("causationId") in (None, upload.request_id):
            return {k: done[k] for k in ("imageId", "type", "eventId")}
        # The work was done for another request of this upload (its own ImageUploaded, or a
        # reprocess of it at the same specs): answer this one with the same outcome.
        event = responder.answer_again(upload, EventType(done["type"]), done.get("data") or {})
        return {"imageId": event.image_id, "type": event.type.value, "eventId": event.event_id}


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

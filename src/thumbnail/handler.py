"""ThumbnailFunction: the fast path, a 256 px thumbnail for every upload (direct rule target)."""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.aws.observability import function_logger, observed
from image_pipeline.aws.upload_jobs import IdempotentJob, answer_uploads, upload_responder
from image_pipeline.catalogue import job
from image_pipeline.event_shapes import UnsupportedEvent
from image_pipeline.processing import UploadResponder
from image_pipeline.settings import ProcessorSettings

JOB = job("thumbnail")
FUNCTION = JOB.function
settings = ProcessorSettings.from_env()
logger = function_logger()
thumbnail = IdempotentJob(JOB, settings.idempotency_table)


@cache
def aws_responder() -> UploadResponder:
    return upload_responder(settings, producer=FUNCTION)


@observed
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext, responder: UploadResponder | None = None) -> dict[str, Any]:
    thumbnail.config.register_lambda_context(context)
    try:
        return answer_uploads(event, FUNCTION, thumbnail, responder or aws_responder(), logger)
    except UnsupportedEvent as exc:
        logger.error(str(exc))
        return exc.result()

"""RecognizeFunction: "recognize" for real - labels, faces and moderation of every upload."""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.aws.observability import function_logger, observed
from image_pipeline.aws.recognizers import recognizer_for
from image_pipeline.aws.upload_jobs import IdempotentJob, answer_uploads, upload_responder
from image_pipeline.event_shapes import UnsupportedEvent
from image_pipeline.processing import UploadResponder
from image_pipeline.recognition import ModerationThreshold, Recognizer
from image_pipeline.recognition.job import recognition_job
from image_pipeline.settings import RecognizeSettings

FUNCTION = "RecognizeFunction"
settings = RecognizeSettings.from_env()
threshold = ModerationThreshold(settings.moderation_threshold)
logger = function_logger()


@cache
def aws_responder() -> UploadResponder:
    return upload_responder(settings, producer=FUNCTION)


@cache
def recognition(recognizer: Recognizer | None = None) -> IdempotentJob:
    """The job with the deployment's backend (built at the first upload), or with a test's."""
    backend = recognizer or recognizer_for(settings.recognition_backend, threshold)
    return IdempotentJob(recognition_job(backend, threshold), settings.idempotency_table)


@observed
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(
    event: Any, context: LambdaContext, responder: UploadResponder | None = None, recognizer: Recognizer | None = None
) -> dict[str, Any]:
    job = recognition(recognizer)
    job.config.register_lambda_context(context)
    try:
        return answer_uploads(event, FUNCTION, job, responder or aws_responder(), logger)
    except UnsupportedEvent as exc:
        logger.error(str(exc))
        return exc.result()

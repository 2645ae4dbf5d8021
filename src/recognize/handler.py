"""RecognizeFunction: "recognize" for real - labels, faces and moderation of every upload; a
flagged image is rejected (its rule invokes it)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.aws.observability import function_logger, observed
from image_pipeline.aws.recognizers import recognition_operations
from image_pipeline.aws.upload_jobs import JobRunner
from image_pipeline.processing import UploadResponder
from image_pipeline.settings import RecognizeSettings

settings = RecognizeSettings.from_env()
logger = function_logger()
operations = recognition_operations(settings.recognition_backend, settings.moderation_threshold)
recognition = JobRunner("recognition", settings, logger, operations=operations)


@observed
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext, responder: UploadResponder | None = None) -> dict[str, Any]:
    return recognition.answer(event, context, responder)

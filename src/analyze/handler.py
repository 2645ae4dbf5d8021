"""AnalyzeFunction: "recognize" every upload (format, EXIF summary, colours, hash, sharpness)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.aws.observability import function_logger, observed
from image_pipeline.aws.upload_jobs import JobRunner
from image_pipeline.processing import UploadResponder
from image_pipeline.settings import ProcessorSettings

settings = ProcessorSettings.from_env()
logger = function_logger()
analysis = JobRunner("analysis", settings, logger)


@observed
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext, responder: UploadResponder | None = None) -> dict[str, Any]:
    return analysis.answer(event, context, responder)

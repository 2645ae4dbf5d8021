"""AnalyzeFunction: "recognize" every upload (format, EXIF summary, colours, hash, sharpness)."""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.aws.observability import function_logger, observed
from image_pipeline.aws.upload_jobs import IdempotentJob, upload_responder
from image_pipeline.processing import ANALYSIS_JOB, UploadResponder
from image_pipeline.settings import ProcessorSettings
from image_pipeline.uploads import parse_uploads

settings = ProcessorSettings.from_env()
logger = function_logger()
analysis = IdempotentJob(ANALYSIS_JOB, settings.idempotency_table)


@cache
def aws_responder() -> UploadResponder:
    return upload_responder(settings, producer="AnalyzeFunction")


@observed
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, responder: UploadResponder | None = None
) -> list[dict[str, Any]]:
    analysis.config.register_lambda_context(context)
    results = []
    for upload in parse_uploads(event):
        logger.set_correlation_id(upload.image_id)
        results.append(analysis(upload, responder or aws_responder()))
    return results

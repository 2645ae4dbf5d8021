"""RenditionWorker: web renditions (JPEG/WebP/AVIF) plus crop and filter previews.

Fed by RenditionQueue, whose messages are the ImageUploaded rule's events. Records fail one by
one (ReportBatchItemFailures), each with its reason logged: a poison message (not JSON, not an S3
event) is retried, then parked in the DLQ, while the rest of its batch completes.
"""

from functools import cache, partial
from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.aws.batches import SqsBatches, json_body
from image_pipeline.aws.observability import function_logger, observed
from image_pipeline.aws.upload_jobs import IdempotentJob, answer_uploads, upload_responder
from image_pipeline.processing import RENDITIONS_JOB, UploadResponder
from image_pipeline.settings import ProcessorSettings

FUNCTION = "RenditionWorker"
EXPECTED = "SQS batches (from RenditionQueue) whose messages are S3 'Object Created' events"
settings = ProcessorSettings.from_env()
logger = function_logger()
renditions = IdempotentJob(RENDITIONS_JOB, settings.idempotency_table)
batches = SqsBatches(FUNCTION, EXPECTED, logger)


@cache
def aws_responder() -> UploadResponder:
    return upload_responder(settings, producer=FUNCTION)


def record_handler(record: SQSRecord, responder: UploadResponder) -> None:
    # A message that is not an S3 event raises, naming what is wrong: it fails alone.
    answer_uploads(json_body(record), FUNCTION, renditions, responder, logger)


@observed
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(
    event: Any, context: LambdaContext, responder: UploadResponder | None = None
) -> PartialItemFailureResponse | dict[str, str]:
    renditions.config.register_lambda_context(context)
    return batches.process(event, partial(record_handler, responder=responder or aws_responder()), context)

"""RenditionWorker: web renditions (JPEG/WebP/AVIF) plus crop and filter previews.

Fed by RenditionQueue, whose messages are RenditionUploadsRule's S3 "Object Created" events.
Records fail one by one (ReportBatchItemFailures), each with its reason logged: a poison message
(not JSON, not an S3 event) is retried, then parked in the DLQ, while the rest of its batch completes.
"""

from functools import partial
from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.aws.batches import SqsBatches, json_body
from image_pipeline.aws.observability import function_logger, observed
from image_pipeline.aws.upload_jobs import JobRunner
from image_pipeline.processing import UploadResponder
from image_pipeline.settings import ProcessorSettings

EXPECTED = "SQS batches (from RenditionQueue) whose messages are S3 'Object Created' events"
settings = ProcessorSettings.from_env()
logger = function_logger()
renditions = JobRunner("renditions", settings, logger)
batches = SqsBatches(renditions.job.function, EXPECTED, logger)


def record_handler(record: SQSRecord, responder: UploadResponder | None) -> None:
    # A message that is not an S3 event raises, naming what is wrong: it fails alone.
    renditions.run(json_body(record), responder)


@observed
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(
    event: Any, context: LambdaContext, responder: UploadResponder | None = None
) -> PartialItemFailureResponse | dict[str, str]:
    renditions.idempotent.config.register_lambda_context(context)
    return batches.process(event, partial(record_handler, responder=responder), context)

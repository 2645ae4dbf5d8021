"""RenditionWorker: web renditions (JPEG/WebP/AVIF) plus crop and filter previews.

Fed by RenditionQueue, whose messages are RenditionUploadsRule's S3 "Object Created" events. Records fail one by
one (ReportBatchItemFailures): a poison message is retried, then parked in the DLQ, while the
rest of its batch completes.
"""

from functools import partial
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.aws.observability import function_logger, observed
from image_pipeline.aws.upload_jobs import JobRunner
from image_pipeline.event_shapes import UnsupportedEvent
from image_pipeline.processing import UploadResponder
from image_pipeline.settings import ProcessorSettings

EXPECTED = "SQS batches (from RenditionQueue) whose messages are S3 'Object Created' events"
settings = ProcessorSettings.from_env()
logger = function_logger()
renditions = JobRunner("renditions", settings, logger)
processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord, responder: UploadResponder | None) -> None:
    # A message that is not an S3 event raises: it fails alone, is retried, then dead-lettered.
    renditions.run(record.json_body, responder)


def _is_sqs_batch(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    return isinstance(records, list) and all(isinstance(r, dict) and "body" in r for r in records)


@observed
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(
    event: Any, context: LambdaContext, responder: UploadResponder | None = None
) -> PartialItemFailureResponse | dict[str, str]:
    renditions.idempotent.config.register_lambda_context(context)
    if not _is_sqs_batch(event):
        unsupported = UnsupportedEvent(renditions.job.function, EXPECTED, event)
        logger.error(str(unsupported))
        return unsupported.result()
    return process_partial_response(
        event=event,
        record_handler=partial(record_handler, responder=responder),
        processor=processor,
        context=context,
    )

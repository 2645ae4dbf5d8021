"""RenditionWorker: web renditions (JPEG/WebP/AVIF) plus crop and filter previews.

Fed by RenditionQueue, whose messages are the ImageUploaded rule's events. Records fail one by
one (ReportBatchItemFailures): a poison message is retried, then parked in the DLQ, while the
rest of its batch completes.
"""

from functools import cache, partial
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.aws.observability import function_logger, observed
from image_pipeline.aws.upload_jobs import IdempotentJob, upload_responder
from image_pipeline.processing import RENDITIONS_JOB, UploadResponder
from image_pipeline.settings import ProcessorSettings
from image_pipeline.uploads import parse_uploads

settings = ProcessorSettings.from_env()
logger = function_logger()
renditions = IdempotentJob(RENDITIONS_JOB, settings.idempotency_table)
processor = BatchProcessor(event_type=EventType.SQS)


@cache
def aws_responder() -> UploadResponder:
    return upload_responder(settings, producer="RenditionWorker")


def record_handler(record: SQSRecord, responder: UploadResponder) -> None:
    for upload in parse_uploads(record.json_body):
        logger.set_correlation_id(upload.image_id)
        renditions(upload, responder)


@observed
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, responder: UploadResponder | None = None
) -> PartialItemFailureResponse:
    renditions.config.register_lambda_context(context)
    return process_partial_response(
        event=event,
        record_handler=partial(record_handler, responder=responder or aws_responder()),
        processor=processor,
        context=context,
    )

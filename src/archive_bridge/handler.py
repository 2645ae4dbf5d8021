"""ArchiveBridge (consumer C, local engine only): hands the archive rule's records to Firehose.

On AWS the history rule targets the delivery stream directly. The local engine does not deliver
a rule to Firehose, so there (LocalEmulator=true) the same rule, with the same input transformer,
feeds BridgeQueue instead, and this function puts each record it finds there, unchanged, on the
stream. Records fail one by one (ReportBatchItemFailures), then go to the DLQ.
"""

from functools import cache, partial
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.aws.archive import FirehoseArchive
from image_pipeline.aws.observability import function_logger
from image_pipeline.hub.settings import ArchiveBridgeSettings

settings = ArchiveBridgeSettings.from_env()
logger = function_logger()
processor = BatchProcessor(event_type=EventType.SQS)


@cache
def aws_archive() -> FirehoseArchive:
    return FirehoseArchive(settings.delivery_stream_name)


def record_handler(record: SQSRecord, archive: FirehoseArchive) -> str:
    archived: dict[str, Any] = record.json_body
    record_id = archive.put(archived)
    logger.info("archived", extra={"eventId": archived.get("event_id"), "recordId": record_id})
    return record_id


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, archive: FirehoseArchive | None = None
) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event,
        record_handler=partial(record_handler, archive=archive or aws_archive()),
        processor=processor,
        context=context,
    )

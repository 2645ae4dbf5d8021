"""ArchiveBridge (the history consumer, local engine only): hands the archive rule's records to Firehose.

On AWS the history rule targets the delivery stream directly. The local engine does not deliver
a rule to Firehose, so there (LocalEmulator=true) the same rule, with the same input transformer,
feeds BridgeQueue instead, and this function puts each record it finds there, unchanged, on the
stream. Records fail one by one (ReportBatchItemFailures), then go to the DLQ.
"""

from functools import cache, partial
from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.aws.archive import FirehoseArchive
from image_pipeline.aws.batches import SqsBatches, UnreadableMessage, json_body
from image_pipeline.aws.observability import function_logger
from image_pipeline.hub.settings import ArchiveBridgeSettings

settings = ArchiveBridgeSettings.from_env()
logger = function_logger()
batches = SqsBatches("ArchiveBridge", "SQS batches (from BridgeQueue) of the history rule's records", logger)


@cache
def aws_archive() -> FirehoseArchive:
    return FirehoseArchive(settings.delivery_stream_name)


def record_handler(record: SQSRecord, archive: FirehoseArchive) -> str:
    archived = json_body(record)
    if not isinstance(archived, dict):  # the rule's input transformer makes one object per event
        raise UnreadableMessage(f"the body is JSON but not an object: {record.body[:80]!r}")
    record_id = archive.put(archived)
    logger.info("archived", extra={"eventId": archived.get("event_id"), "recordId": record_id})
    return record_id


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(
    event: Any, context: LambdaContext, archive: FirehoseArchive | None = None
) -> PartialItemFailureResponse | dict[str, str]:
    return batches.process(event, partial(record_handler, archive=archive or aws_archive()), context)

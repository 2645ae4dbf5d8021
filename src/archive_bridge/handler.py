"""ArchiveBridge (consumer C, local engine only): hands the archive rule's record to Firehose.

On AWS the history rule targets the delivery stream directly. The local engine does not deliver
a rule to Firehose, so there (LocalEmulator=true) the same rule, with the same input transformer,
targets this function instead, and it puts the record it received, unchanged, on the stream.
"""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.aws.archive import FirehoseArchive
from image_pipeline.aws.observability import function_logger
from image_pipeline.hub.settings import ArchiveBridgeSettings

settings = ArchiveBridgeSettings.from_env()
logger = function_logger()


@cache
def aws_archive() -> FirehoseArchive:
    return FirehoseArchive(settings.delivery_stream_name)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, archive: FirehoseArchive | None = None
) -> dict[str, Any]:
    record_id = (archive or aws_archive()).put(event)
    logger.info("archived", extra={"eventId": event.get("event_id"), "recordId": record_id})
    return {"recordId": record_id}

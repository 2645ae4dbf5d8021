"""Validator (hub): checks each forwarded event against the schema registry, republishes the
valid ones as ``valid.<source>`` and quarantines the rest with their reason.

Fed by an SQS queue (the central bus's rule buffers the producers' events there), in batches.
Only the records whose event could not go out (or into the quarantine) come back
(ReportBatchItemFailures), then land in HubDLQ after five receives.
"""

from functools import cache
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import SQSEvent
from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.aws.hub import DynamoRepublishLog, EventBridgeRepublisher, SqsQuarantine
from image_pipeline.aws.observability import function_logger
from image_pipeline.event_shapes import UnsupportedEvent, is_sqs_batch
from image_pipeline.hub.settings import ValidatorSettings
from image_pipeline.hub.validation import (
    QuarantineQueue,
    Republisher,
    RepublishLog,
    parse_message,
    validate_and_republish,
)

settings = ValidatorSettings.from_env()
logger = function_logger()
metrics = Metrics()


@cache
def aws_adapters() -> tuple[Republisher, QuarantineQueue, RepublishLog]:
    return (
        EventBridgeRepublisher(settings.central_bus_name),
        SqsQuarantine(settings.quarantine_queue_url),
        DynamoRepublishLog(settings.republished_table, remember_for=settings.republished_for),
    )


@metrics.log_metrics
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(
    event: Any,
    context: LambdaContext,
    adapters: tuple[Republisher, QuarantineQueue, RepublishLog] | None = None,
) -> dict[str, Any]:
    if not is_sqs_batch(event):  # a broken message is quarantined below; a non-batch is a wrong wiring
        unsupported = UnsupportedEvent("Validator", "SQS batches (from the central bus's queue) of events", event)
        logger.error(str(unsupported))
        return unsupported.result()
    republisher, quarantine, republished = adapters or aws_adapters()
    records = list(SQSEvent(event).records)
    received = [parse_message(record.body) for record in records]
    outcome = validate_and_republish(
        received,
        producers=settings.producers(),
        republisher=republisher,
        quarantine=quarantine,
        republished=republished,
    )
    metrics.add_metric(name="InvalidEvents", unit=MetricUnit.Count, value=len(outcome.quarantined))
    metrics.add_metric(name="RepublishedEvents", unit=MetricUnit.Count, value=len(outcome.republished))
    summary = {
        "republished": [r.event_id for r in outcome.republished],
        "duplicates": outcome.duplicates,
        "quarantined": [{"reason": q.reason, "message": q.message} for q in outcome.quarantined],
    }
    if outcome.error:
        logger.error("part of the batch comes back: %s", outcome.error, extra={"unfinished": outcome.unfinished})
    else:
        logger.info("batch validated", extra=summary)
    return {"batchItemFailures": [{"itemIdentifier": records[i].message_id} for i in outcome.unfinished], **summary}

"""Aggregator (the aggregates consumer): counts each validated event once into the day's statistics, then
pushes the day's counters to the GraphQL subscription (best effort: the counts are the truth).

Fed by CountQueue, whose messages are the count rule's events: batches for at most two instances,
so a burst does not run dozens of transactions on the day's item at once. Records fail one by
one (ReportBatchItemFailures): a conflicting or broken one comes back, then goes to the DLQ.
"""

from functools import cache, partial
from typing import Any

from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.aws.batches import SqsBatches, json_body
from image_pipeline.aws.observability import function_logger
from image_pipeline.aws.stats import DynamoStatsStore
from image_pipeline.aws.stats_api import AppSyncStatsPush
from image_pipeline.events import PipelineEvent
from image_pipeline.hub.aggregates import StatsPush, StatsStore, aggregate
from image_pipeline.hub.settings import AggregatorSettings

settings = AggregatorSettings.from_env()
logger = function_logger()
batches = SqsBatches("Aggregator", "SQS batches (from CountQueue) of validated pipeline events", logger)


@cache
def aws_adapters() -> tuple[StatsStore, StatsPush]:
    return DynamoStatsStore(settings.stats_table), AppSyncStatsPush(settings.stats_api_url, settings.stats_api_id)


def record_handler(record: SQSRecord, adapters: tuple[StatsStore, StatsPush]) -> dict[str, Any]:
    # Only validated events reach the queue (the rule matches valid.*): a broken one is a bug,
    # refused (its problems named) like any message that is not a pipeline event.
    received = PipelineEvent.from_eventbridge(json_body(record))
    logger.set_correlation_id(received.image_id)
    result = aggregate(received, *adapters)
    summary = {
        "eventId": received.event_id,
        "event": received.type.value,
        "duplicate": result.duplicate,
        "status": result.status.status.value if result.status else None,
        "pushed": list(result.pushed),
    }
    logger.info("duplicate event" if result.duplicate else "event counted", extra=summary)
    return summary


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(
    event: Any, context: LambdaContext, adapters: tuple[StatsStore, StatsPush] | None = None
) -> PartialItemFailureResponse | dict[str, str]:
    return batches.process(event, partial(record_handler, adapters=adapters or aws_adapters()), context)

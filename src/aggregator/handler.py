"""Aggregator (consumer B): counts each validated event once into the day's statistics, then
pushes the day's counters to the GraphQL subscription (best effort: the counts are the truth)."""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.aws.observability import function_logger
from image_pipeline.aws.stats import DynamoStatsStore
from image_pipeline.aws.stats_api import AppSyncStatsPush
from image_pipeline.events import PipelineEvent
from image_pipeline.hub.aggregates import StatsPush, StatsStore, aggregate
from image_pipeline.hub.settings import AggregatorSettings

settings = AggregatorSettings.from_env()
logger = function_logger()


@cache
def aws_adapters() -> tuple[StatsStore, StatsPush]:
    return DynamoStatsStore(settings.stats_table), AppSyncStatsPush(settings.stats_api_url, settings.stats_api_id)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, adapters: tuple[StatsStore, StatsPush] | None = None
) -> dict[str, Any]:
    # Only validated events reach this function (the rule matches valid.*): a broken one is a bug.
    received = PipelineEvent.from_eventbridge(event)
    logger.set_correlation_id(received.image_id)
    store, push = adapters or aws_adapters()
    result = aggregate(received, store, push)
    summary = {
        "eventId": received.event_id,
        "event": received.type.value,
        "duplicate": result.duplicate,
        "final": result.final.status.value if result.final else None,
        "pushed": list(result.pushed),
    }
    logger.info("duplicate event" if result.duplicate else "event counted", extra=summary)
    return summary

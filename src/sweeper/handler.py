"""StallSweeper: on a schedule, reports images whose responses are overdue.

Publishes ImageProcessingStalled (naming the missing responses) and the StalledImages metric
that the StalledImagesAlarm watches.
"""

from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.aws.dynamodb import DynamoImageLog
from image_pipeline.aws.eventbridge import EventBridgePublisher
from image_pipeline.aws.observability import function_logger, observed
from image_pipeline.ports import EventPublisher, ImageLog
from image_pipeline.settings import SweeperSettings
from image_pipeline.tracker import sweep_stalled

settings = SweeperSettings.from_env()
logger = function_logger()
metrics = Metrics()
STALL_TIMEOUT = timedelta(seconds=settings.stall_timeout_seconds)


@cache
def aws_adapters() -> tuple[ImageLog, EventPublisher]:
    return DynamoImageLog(settings.images_table), EventBridgePublisher(settings.app_bus_name, settings.event_source)


@observed
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, adapters: tuple[ImageLog, EventPublisher] | None = None
) -> dict[str, Any]:
    images, publisher = adapters or aws_adapters()
    stalls = sweep_stalled(
        images, publisher, now=datetime.now(UTC), stall_timeout=STALL_TIMEOUT, producer="StallSweeper"
    )
    metrics.add_metric(name="StalledImages", unit=MetricUnit.Count, value=len(stalls))
    return {"stalled": [{"imageId": s.image_id, "missing": s.data["missing"]} for s in stalls]}

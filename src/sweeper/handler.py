"""StallSweeper: on a schedule, reports images that waited too long.

Publishes ImageProcessingStalled (naming the missing responses) for uploads whose responses are
overdue, UploadExpired for upload URLs nobody used, and the StalledImages / ExpiredUploads
metrics (StalledImagesAlarm watches the first).
"""

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.aws.dynamodb import DynamoImageLog
from image_pipeline.aws.eventbridge import EventBridgePublisher
from image_pipeline.aws.observability import function_logger, observed
from image_pipeline.event_shapes import UnsupportedEvent, is_scheduled_event
from image_pipeline.ports import EventPublisher, ImageLog
from image_pipeline.settings import SweeperSettings
from image_pipeline.tracker import sweep_overdue

settings = SweeperSettings.from_env()
RESERVE_MS = 10_000  # of its 60 s: enough to publish the last batch and claim it
logger = function_logger()
metrics = Metrics()


@cache
def aws_adapters() -> tuple[ImageLog, EventPublisher]:
    images = DynamoImageLog(settings.images_table, retention_days=settings.retention_days)
    return images, EventBridgePublisher(settings.app_bus_name, settings.event_source)


@observed
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(
    event: Any, context: LambdaContext, adapters: tuple[ImageLog, EventPublisher] | None = None
) -> dict[str, Any]:
    if not is_scheduled_event(event):  # a sweep is the schedule's job, not a side effect of a stray event
        unsupported = UnsupportedEvent("StallSweeper", "its schedule's 'Scheduled Event' ticks", event)
        logger.error(str(unsupported))
        return unsupported.result()
    images, publisher = adapters or aws_adapters()
    swept = sweep_overdue(
        images,
        publisher,
        now=datetime.now(UTC),
        stall_timeout=settings.stall_timeout,
        producer="StallSweeper",
        # stop while there is time to publish what was found (a slow store can make one image take seconds)
        out_of_time=lambda: context.get_remaining_time_in_millis() < RESERVE_MS,
    )
    if swept.postponed:
        logger.warning("%d overdue images left for the next sweep", swept.postponed)
    metrics.add_metric(name="StalledImages", unit=MetricUnit.Count, value=len(swept.stalled))
    metrics.add_metric(name="ExpiredUploads", unit=MetricUnit.Count, value=len(swept.expired))
    return {
        "stalled": [{"imageId": s.image_id, "missing": s.data["missing"]} for s in swept.stalled],
        "expired": [e.image_id for e in swept.expired],
        "postponed": swept.postponed,
    }

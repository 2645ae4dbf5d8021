"""TrackerFunction: records every pipeline event against its image, re-derives its status (and
its edits') and announces every change on the app bus (ImageStatusChanged, EditStatusChanged)."""

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.aws.dynamodb import DynamoImageLog
from image_pipeline.aws.eventbridge import EventBridgePublisher
from image_pipeline.aws.observability import function_logger, observed
from image_pipeline.events import NotAPipelineEvent
from image_pipeline.ports import EventPublisher, ImageLog
from image_pipeline.settings import TrackerSettings
from image_pipeline.tracker import pipeline_event, record_event

settings = TrackerSettings.from_env()
logger = function_logger()


@cache
def aws_adapters() -> tuple[ImageLog, EventPublisher]:
    images = DynamoImageLog(settings.images_table, retention_days=settings.retention_days)
    return images, EventBridgePublisher(settings.app_bus_name, settings.event_source)


@observed
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(
    event: Any, context: LambdaContext, adapters: tuple[ImageLog, EventPublisher] | None = None
) -> dict[str, Any]:
    if not isinstance(event, dict):
        event = {"detail": event}  # named below as not a pipeline event
    try:
        received = pipeline_event(event)
    except NotAPipelineEvent as exc:
        logger.warning("refused an event: %s", exc, extra={"why": str(exc), "event_id": event.get("id")})
        return {"recorded": False, "reason": str(exc)}
    logger.set_correlation_id(received.image_id)
    images, publisher = adapters or aws_adapters()
    recorded = record_event(received, images, settings.stall_timeout, publisher, now=datetime.now(UTC))
    summary = {
        "recorded": not recorded.duplicate,
        "imageId": received.image_id,
        "event": received.type.value,
        "status": recorded.state.status.value,
        "missing": [m.value for m in recorded.state.missing],
        "announced": recorded.announced.data["version"] if recorded.announced else None,
        "editAnnounced": recorded.edit_announced.data["version"] if recorded.edit_announced else None,
    }
    logger.info("event recorded" if not recorded.duplicate else "duplicate event", extra=summary)
    return summary

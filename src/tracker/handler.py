"""TrackerFunction: records every pipeline event against its image and re-derives its status."""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.aws.dynamodb import DynamoImageLog
from image_pipeline.aws.observability import function_logger, observed
from image_pipeline.events import NotAPipelineEvent
from image_pipeline.ports import ImageLog
from image_pipeline.settings import TrackerSettings
from image_pipeline.tracker import pipeline_event, record_event

settings = TrackerSettings.from_env()
logger = function_logger()


@cache
def aws_images() -> ImageLog:
    return DynamoImageLog(settings.images_table, retention_days=settings.retention_days)


@observed
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext, images: ImageLog | None = None) -> dict[str, Any]:
    if not isinstance(event, dict):
        event = {"detail": event}  # named below as not a pipeline event
    try:
        received = pipeline_event(event)
    except NotAPipelineEvent as exc:
        logger.warning("ignored: %s", exc, extra={"why": str(exc), "event_id": event.get("id")})
        return {"recorded": False, "reason": str(exc)}
    logger.set_correlation_id(received.image_id)
    recorded = record_event(received, images or aws_images(), settings.stall_timeout)
    summary = {
        "recorded": not recorded.duplicate,
        "imageId": received.image_id,
        "event": received.type.value,
        "status": recorded.state.status.value,
        "missing": [m.value for m in recorded.state.missing],
    }
    logger.info("event recorded" if not recorded.duplicate else "duplicate event", extra=summary)
    return summary

"""EditPublishFunction: the EditWorkflow's last step. Publishes a completed edit's output under
outputs/ and announces the edit's outcome (EditCompleted, EditRejected or EditFailed) on the app
bus. Invoked by the workflow only; it needs no image layer.
"""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.aws.eventbridge import EventBridgePublisher
from image_pipeline.aws.observability import function_logger, observed
from image_pipeline.aws.s3 import S3ObjectStore
from image_pipeline.edit_outcomes import PUBLISH_INPUT, EditOutcomes
from image_pipeline.settings import EditPublishSettings

settings = EditPublishSettings.from_env()
logger = function_logger()


@cache
def aws_outcomes() -> EditOutcomes:
    return EditOutcomes(
        store=S3ObjectStore(),
        publisher=EventBridgePublisher(settings.app_bus_name, settings.event_source),
        bucket=settings.images_bucket,
    )


@observed
@logger.inject_lambda_context(correlation_id_path="edit.imageId", clear_state=True)
def lambda_handler(
    event: dict[str, Any], context: LambdaContext, outcomes: EditOutcomes | None = None
) -> dict[str, Any]:
    request = PUBLISH_INPUT.validate_python(event)
    published = (outcomes or aws_outcomes()).publish(request)
    return {
        "outcome": request.outcome,
        "type": published.type.value,
        "eventId": published.event_id,
        "message": str(published.data.get("message", published.type.value)),
    }

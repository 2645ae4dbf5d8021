"""ReprocessItemFunction: one step of a ReprocessWorkflow child (reprocess/template.yaml).

``request``: for each stored object of the child's item (or ItemBatcher batch), ask the renditions
job again when its image's outputs are older than the current specs; ``check``: settle what was
asked once its answer has come. Outcomes come back as data (the local engine reports every Lambda
error as one name), and the workflow fails the item on a failure outcome.
"""

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.aws.dynamodb import DynamoImageLog
from image_pipeline.aws.eventbridge import EventBridgePublisher
from image_pipeline.aws.observability import function_logger, observed
from image_pipeline.aws.sqs import SqsJobFeed
from image_pipeline.event_shapes import UnsupportedEvent
from image_pipeline.imaging import SPEC_VERSIONS
from image_pipeline.reprocessing import Reprocessor, reprocessed_job, step
from image_pipeline.settings import ReprocessSettings

settings = ReprocessSettings.from_env()
logger = function_logger()


@cache
def aws_reprocessor() -> Reprocessor:
    return Reprocessor(
        images=DynamoImageLog(settings.images_table, retention_days=settings.retention_days),
        publisher=EventBridgePublisher(settings.app_bus_name, settings.event_source),
        feed=SqsJobFeed(settings.rendition_queue_url),
        spec_version=SPEC_VERSIONS[reprocessed_job().name],
        stall_timeout=settings.stall_timeout,
        answer_timeout=settings.answer_timeout,
    )


@observed
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext, reprocessor: Reprocessor | None = None) -> dict[str, Any]:
    try:
        return step(event, reprocessor or aws_reprocessor(), now=datetime.now(UTC))
    except UnsupportedEvent as exc:
        logger.error(str(exc))
        return exc.result()

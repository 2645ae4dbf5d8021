"""IntakeFunction: every object created under uploads/ becomes an image - a record (file name, size,
content type) and ImageUploaded on the app bus, the request the processors' responses answer."""

from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.aws.dynamodb import DynamoImageLog
from image_pipeline.aws.eventbridge import EventBridgePublisher
from image_pipeline.aws.observability import function_logger, observed
from image_pipeline.aws.s3 import S3ObjectStore
from image_pipeline.event_shapes import UnsupportedEvent
from image_pipeline.intake import INTAKE_PRODUCER, Intake
from image_pipeline.settings import IntakeSettings
from image_pipeline.uploads import parse_uploads

settings = IntakeSettings.from_env()
logger = function_logger()


@cache
def aws_intake() -> Intake:
    return Intake(
        store=S3ObjectStore(),
        images=DynamoImageLog(settings.images_table, retention_days=settings.retention_days),
        publisher=EventBridgePublisher(settings.app_bus_name, settings.event_source),
    )


@observed
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext, intake: Intake | None = None) -> dict[str, Any]:
    # Idempotent without a table: the record is written only if absent, and ImageUploaded's id is
    # the upload's own (image id @ S3 sequencer), which the tracker records once.
    try:
        announced = parse_uploads(event, function=INTAKE_PRODUCER, bucket=settings.images_bucket)
    except UnsupportedEvent as exc:
        logger.error(str(exc))
        return exc.result()
    ignored = announced.report_ignored()
    registered = []
    for upload in announced.uploads:
        logger.set_correlation_id(upload.image_id)
        uploaded = (intake or aws_intake()).register(upload)
        registered.append({"imageId": uploaded.image_id, "type": uploaded.type.value, "eventId": uploaded.event_id})
    return {"results": registered, "ignored": ignored}

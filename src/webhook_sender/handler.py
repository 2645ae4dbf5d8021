"""WebhookSender: POSTs an image's (or an edit's) final status to its callbackUrl, signed per
Standard Webhooks, retrying with backoff through WebhookQueue for at least a day.

Fed by WebhookQueue: the final ImageStatusChanged / EditStatusChanged events (from the rule), and
the retries this function queues. Records fail one by one: a message that is not a status change
is retried, then dead-lettered, while the rest of its batch completes. Each attempt is recorded
as WebhookAttempted on the app bus.
"""

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, partial
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.aws.deliveries import DynamoDeliveries
from image_pipeline.aws.delivery_queue import SqsDeliveryQueue
from image_pipeline.aws.dynamodb import DynamoImageLog
from image_pipeline.aws.eventbridge import EventBridgePublisher
from image_pipeline.aws.net import HttpTransport, SocketResolver
from image_pipeline.aws.observability import function_logger, observed
from image_pipeline.aws.s3 import S3ObjectStore
from image_pipeline.aws.secrets import SecretsManagerVersions
from image_pipeline.event_shapes import UnsupportedEvent
from image_pipeline.image_api import Downloads
from image_pipeline.notify.callbacks import CallbackPolicy
from image_pipeline.notify.delivery import Job, WebhookConfig, WebhookPorts, attempted_event, deliver
from image_pipeline.notify.results import Results
from image_pipeline.ports import EventPublisher
from image_pipeline.settings import WebhookSettings

PRODUCER = "WebhookSender"
EXPECTED = "SQS batches (from WebhookQueue) of final status changes and their retries"
settings = WebhookSettings.from_env()
logger = function_logger()
processor = BatchProcessor(event_type=EventType.SQS)
config = WebhookConfig(policy=CallbackPolicy(allow_loopback=settings.allow_loopback_callbacks), producer=PRODUCER)
jitter = secrets.SystemRandom()


@dataclass(frozen=True)
class Adapters:
    ports: WebhookPorts
    publisher: EventPublisher


@cache
def aws_adapters() -> Adapters:
    images = DynamoImageLog(settings.images_table)
    downloads = Downloads(S3ObjectStore(), settings.images_bucket, settings.download_url_ttl_seconds)
    ports = WebhookPorts(
        images=images,
        results=Results(images, downloads, settings.stall_timeout),
        deliveries=DynamoDeliveries(settings.deliveries_table),
        queue=SqsDeliveryQueue(settings.webhook_queue_url, settings.webhook_dlq_url),
        resolver=SocketResolver(),
        transport=HttpTransport(),
        secrets=SecretsManagerVersions(settings.webhook_secret_arn),
    )
    return Adapters(ports, EventBridgePublisher(settings.app_bus_name, settings.event_source))


def record_handler(record: SQSRecord, adapters: Adapters) -> None:
    report = deliver(
        Job.from_message(record.json_body), adapters.ports, config, clock=lambda: datetime.now(UTC), draw=jitter.random
    )
    logger.set_correlation_id(report.change.image_id)
    logger.info("webhook %s", report.outcome or report.note, extra={"attempt": report.attempt})
    if (attempted := attempted_event(report, producer=PRODUCER)) is None:
        return
    try:
        adapters.publisher.publish([attempted])
    except Exception:  # the attempt is made and recorded; only its trace entry is lost
        logger.exception("could not publish WebhookAttempted", extra={"event_id": attempted.event_id})


def _is_sqs_batch(event: Any) -> bool:
    records = event.get("Records") if isinstance(event, dict) else None
    return isinstance(records, list) and all(isinstance(r, dict) and "body" in r for r in records)


@observed
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(
    event: Any, context: LambdaContext, adapters: Adapters | None = None
) -> PartialItemFailureResponse | dict[str, str]:
    if not _is_sqs_batch(event):
        unsupported = UnsupportedEvent("WebhookSender", EXPECTED, event)
        logger.error(str(unsupported))
        return unsupported.result()
    handle = partial(record_handler, adapters=adapters or aws_adapters())
    return process_partial_response(event=event, record_handler=handle, processor=processor, context=context)

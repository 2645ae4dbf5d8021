"""NotifierFunction: pushes each status change of an image (ImageStatusChanged, EditStatusChanged)
to the WebSocket connections watching it, in order, the final one with the outputs' links; each
push is recorded as StatusPushed on the app bus."""

import os
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.aws.dynamodb import DynamoImageLog
from image_pipeline.aws.eventbridge import EventBridgePublisher
from image_pipeline.aws.observability import function_logger, observed
from image_pipeline.aws.s3 import S3ObjectStore
from image_pipeline.aws.watchers import DynamoWatchers
from image_pipeline.aws.websocket import ApiGatewayPusher
from image_pipeline.image_api import Downloads
from image_pipeline.notify.changes import NotAStatusChange, StatusChange
from image_pipeline.notify.ports import Pusher, Watchers
from image_pipeline.notify.push import push_change, pushed_event
from image_pipeline.notify.results import Results
from image_pipeline.notify.watch import management_endpoint
from image_pipeline.ports import EventPublisher
from image_pipeline.settings import NotifierSettings

PRODUCER = "NotifierFunction"
settings = NotifierSettings.from_env()
logger = function_logger()


@dataclass(frozen=True)
class Adapters:
    watchers: Watchers
    pusher: Pusher
    results: Results
    publisher: EventPublisher


@cache
def aws_adapters() -> Adapters:
    downloads = Downloads(S3ObjectStore(), settings.images_bucket, settings.download_url_ttl_seconds)
    # On the local engine (AWS_ENDPOINT_URL set) the @connections API has the engine's path form.
    endpoint = management_endpoint(settings.watch_endpoint, os.environ.get("AWS_ENDPOINT_URL"))
    return Adapters(
        watchers=DynamoWatchers(settings.connections_table),
        pusher=ApiGatewayPusher(endpoint),
        results=Results(DynamoImageLog(settings.images_table), downloads, settings.stall_timeout),
        publisher=EventBridgePublisher(settings.app_bus_name, settings.event_source),
    )


@observed
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext, adapters: Adapters | None = None) -> dict[str, Any]:
    try:
        change = StatusChange.from_eventbridge(event if isinstance(event, dict) else {"detail": event})
    except NotAStatusChange as exc:
        logger.warning("ignored an event that is not a status change", extra={"why": str(exc)})
        return {"pushed": False, "reason": str(exc)}
    logger.set_correlation_id(change.image_id)
    ports = adapters or aws_adapters()
    clock = lambda: datetime.now(UTC)  # noqa: E731
    report = push_change(
        change, watchers=ports.watchers, pusher=ports.pusher, describe=ports.results.describe, clock=clock
    )
    if (pushed := pushed_event(report, producer=PRODUCER)) is not None:
        ports.publisher.publish([pushed])
    logger.info("status pushed" if report.skipped is None else "not pushed", extra=report.to_dict())
    return report.to_dict()

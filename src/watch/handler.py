"""WatchFunction: the watch WebSocket API's $connect (admits a connection that shows a valid
watch token, for the image the token names) and $disconnect (forgets it)."""

from datetime import UTC, datetime
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.aws.observability import function_logger, observed
from image_pipeline.aws.secrets import SecretsManagerVersions
from image_pipeline.aws.watchers import DynamoWatchers
from image_pipeline.event_shapes import UnsupportedEvent
from image_pipeline.notify.ports import SecretVersions, Watchers
from image_pipeline.notify.watch import InvalidWatchToken, WatchRequest, connect
from image_pipeline.settings import WatchSettings

settings = WatchSettings.from_env()
logger = function_logger()
Adapters = tuple[Watchers, SecretVersions]


@cache
def aws_adapters() -> Adapters:
    return DynamoWatchers(settings.connections_table), SecretsManagerVersions(settings.watch_secret_arn)


@observed
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: Any, context: LambdaContext, adapters: Adapters | None = None) -> dict[str, Any]:
    try:
        request = WatchRequest.from_event(event)
    except UnsupportedEvent as exc:
        logger.error(str(exc))
        return exc.result()
    watchers, keys = adapters or aws_adapters()
    if request.route != "$connect":  # $disconnect (no other route is wired)
        logger.info("connection closed", extra={"connection_id": request.connection_id})
        return {"statusCode": 200, "imageId": watchers.remove(request.connection_id)}
    try:
        current_keys = [key.encode() for key in keys.versions()]
        image_id = connect(request, keys=current_keys, watchers=watchers, now=datetime.now(UTC))
    except InvalidWatchToken as exc:  # API Gateway refuses the handshake on any non-2xx
        logger.warning("connection refused", extra={"why": str(exc), "connection_id": request.connection_id})
        return {"statusCode": 403, "body": str(exc)}
    logger.set_correlation_id(image_id)
    logger.info("watching", extra={"connection_id": request.connection_id})
    return {"statusCode": 200}

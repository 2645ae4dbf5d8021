"""ApiFunction: the REST API (start an upload, list images, image status and trace, edits).

The routes are Powertools routers in ``image_pipeline.aws.rest``; this module picks the adapters.
"""

import os
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from image_pipeline.aws.dynamodb import DynamoImageLog
from image_pipeline.aws.eventbridge import EventBridgePublisher
from image_pipeline.aws.net import SocketResolver
from image_pipeline.aws.observability import function_logger, observed
from image_pipeline.aws.parameters import SsmWatchEndpoint
from image_pipeline.aws.rest import images_api, json_request
from image_pipeline.aws.rest.deps import Adapters, ApiDeps, Push
from image_pipeline.aws.s3 import S3ObjectStore
from image_pipeline.aws.secrets import SecretsManagerVersions
from image_pipeline.aws.stepfunctions import StepFunctionsEditStarter
from image_pipeline.event_shapes import UnsupportedEvent
from image_pipeline.notify.callbacks import CallbackChecker, CallbackPolicy
from image_pipeline.notify.watch import WatchLinks
from image_pipeline.settings import ApiSettings

FUNCTION = "ApiFunction"
settings = ApiSettings.from_env()
logger = function_logger()
app = images_api(settings.allowed_origin)


@cache
def aws_adapters() -> Adapters:
    return (
        S3ObjectStore(),
        DynamoImageLog(settings.images_table, retention_days=settings.retention_days),
        StepFunctionsEditStarter(settings.edit_workflow_arn),
        EventBridgePublisher(settings.app_bus_name, settings.event_source),
    )


@cache
def aws_push() -> Push:
    # On the local engine (AWS_ENDPOINT_URL set) watch URLs take the engine's path form.
    watch = WatchLinks(
        SecretsManagerVersions(settings.watch_secret_arn),
        SsmWatchEndpoint(settings.watch_url_parameter),
        os.environ.get("AWS_ENDPOINT_URL"),
    )
    return Push(
        CallbackChecker(CallbackPolicy(allow_loopback=settings.allow_loopback_callbacks), SocketResolver()), watch
    )


@observed
@logger.inject_lambda_context(clear_state=True, correlation_id_path="pathParameters.imageId")
def lambda_handler(
    event: Any, context: LambdaContext, adapters: Adapters | None = None, push: Push | None = None
) -> dict[str, Any]:
    if not isinstance(event, dict) or "httpMethod" not in event:
        unsupported = UnsupportedEvent(FUNCTION, "API Gateway REST requests (ImagesApi)", event)
        logger.error(str(unsupported))
        return unsupported.result()
    store, images, starter, publisher = adapters or aws_adapters()
    seconds_left = lambda: context.get_remaining_time_in_millis() / 1000  # noqa: E731
    deps = ApiDeps(settings, store, images, starter, publisher, logger, seconds_left, push or aws_push())
    app.append_context(deps=deps)  # type: ignore[no-untyped-call]
    return app.resolve(json_request(event), context)

"""API Gateway adapter: messages to WebSocket connections through the @connections API."""

from typing import Any

import boto3
from botocore.exceptions import ClientError

from image_pipeline.notify.ports import Pusher

_GONE = frozenset({"GoneException", "410"})


class ApiGatewayPusher(Pusher):
    """``endpoint``: the stage's management URL (``https://<apiId>.execute-api.<region>.amazonaws.com/<stage>``,
    or the local engine's path form; see ``image_pipeline.notify.watch.management_endpoint``)."""

    def __init__(self, endpoint: str, client: Any = None) -> None:
        self._api = client or boto3.client("apigatewaymanagementapi", endpoint_url=endpoint)

    def push(self, connection_id: str, message: bytes) -> bool:
        try:
            self._api.post_to_connection(ConnectionId=connection_id, Data=message)
        except ClientError as exc:
            error = exc.response.get("Error", {}).get("Code")
            status = str(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
            if error in _GONE or status == "410":
                return False
            raise
        return True

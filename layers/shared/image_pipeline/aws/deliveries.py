"""DynamoDB adapter for webhook deliveries: one item per delivery (a final status change).

``DELIVERY#<eventId>`` holds the attempt last claimed, until when (``leaseUntil``), whether it
is over (``settled``) and, once the delivery has ended, its ``outcome``. The conditional update
in :meth:`DynamoDeliveries.claim` is what makes a queue message delivered twice one attempt.
Items expire (TTL) well after the retry window.
"""

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from image_pipeline.notify.ports import Deliveries

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

RETENTION = timedelta(days=4)  # the retry window (a day) and then some
_serializer = TypeSerializer()


def _values(values: dict[str, Any]) -> "dict[str, AttributeValueTypeDef]":
    return {k: _serializer.serialize(v) for k, v in values.items()}


def _timestamp(moment: datetime) -> str:
    """Fixed-width UTC, so string order is time order in conditions."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class DynamoDeliveries(Deliveries):
    def __init__(self, table_name: str, client: "DynamoDBClient | None" = None) -> None:
        self._table = table_name
        self._db = client or boto3.client("dynamodb")

    def _key(self, delivery_id: str) -> "dict[str, AttributeValueTypeDef]":
        return _values({"pk": f"DELIVERY#{delivery_id}"})

    def claim(self, delivery_id: str, attempt: int, *, now: datetime, lease_until: datetime) -> bool:
        try:
            self._db.update_item(
                TableName=self._table,
                Key=self._key(delivery_id),
                UpdateExpression="SET attempt = :n, leaseUntil = :lease, settled = :no, expiresAt = :x",
                ConditionExpression=(
                    "attribute_not_exists(pk) OR (attribute_not_exists(outcome) AND "
                    "(attempt < :n OR (attempt = :n AND settled = :no AND leaseUntil < :now)))"
                ),
                ExpressionAttributeValues=_values(
                    {
                        ":n": attempt,
                        ":lease": _timestamp(lease_until),
                        ":no": False,
                        ":now": _timestamp(now),
                        ":x": int((now + RETENTION).timestamp()),
                    }
                ),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def settle(self, delivery_id: str, attempt: int, *, outcome: str | None) -> None:
        update = "SET settled = :yes" + (", outcome = :outcome" if outcome else "")
        values: dict[str, Any] = {":yes": True, ":n": attempt}
        if outcome:
            values[":outcome"] = outcome
        try:
            self._db.update_item(
                TableName=self._table,
                Key=self._key(delivery_id),
                UpdateExpression=update,
                ConditionExpression="attempt = :n",  # a later attempt's claim is not ours to settle
                ExpressionAttributeValues=_values(values),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

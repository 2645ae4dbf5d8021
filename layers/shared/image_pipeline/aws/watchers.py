"""DynamoDB adapter for the watch connections table.

=====================  =====================  ===============================================
pk                     sk                     what
=====================  =====================  ===============================================
IMAGE#<imageId>        CONN#<connectionId>    a WebSocket connection watching the image, and
                                              when $connect admitted it (admittedAt)
CONN#<connectionId>    CONN                   which image the connection watches ($disconnect)
IMAGE#<imageId>        PUSHED#<stream>        the newest version pushed of a stream (the image
                                              or one edit), and the event that carried it
=====================  =====================  ===============================================

Every item carries ``expiresAt`` (DynamoDB TTL): a connection lapses when API Gateway would have
closed it (2 hours), pushed versions a week after the last push. TTL deletes late, so reads
filter out what has lapsed.
"""

from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.types import TypeSerializer
from botocore.exceptions import ClientError

from image_pipeline.notify.ports import Watcher, Watchers

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

PUSHED_RETENTION = timedelta(days=7)
_serializer = TypeSerializer()


def _item(values: dict[str, Any]) -> "dict[str, AttributeValueTypeDef]":
    return {k: _serializer.serialize(v) for k, v in values.items()}


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def _watcher(item: "dict[str, Any]") -> Watcher:
    admitted = item.get("admittedAt")
    return Watcher(
        connection_id=str(item["connectionId"]["S"]),
        admitted_at=datetime.fromisoformat(admitted["S"]) if admitted else None,
    )


class DynamoWatchers(Watchers):
    def __init__(self, table_name: str, client: "DynamoDBClient | None" = None) -> None:
        self._table = table_name
        self._db = client or boto3.client("dynamodb")

    def add(self, image_id: str, connection_id: str, *, admitted_at: datetime, expires_at: datetime) -> None:
        expires = _epoch(expires_at)
        self._db.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": _item(
                            {
                                "pk": f"IMAGE#{image_id}",
                                "sk": f"CONN#{connection_id}",
                                "connectionId": connection_id,
                                "admittedAt": admitted_at.astimezone(UTC).isoformat(),
                                "expiresAt": expires,
                            }
                        ),
                    }
                },
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": _item(
                            {"pk": f"CONN#{connection_id}", "sk": "CONN", "imageId": image_id, "expiresAt": expires}
                        ),
                    }
                },
            ]
        )

    def remove(self, connection_id: str) -> str | None:
        found = self._db.get_item(
            TableName=self._table, Key=_item({"pk": f"CONN#{connection_id}", "sk": "CONN"}), ConsistentRead=True
        ).get("Item")
        if found is None:
            return None
        image_id = str(found["imageId"]["S"])
        self._db.transact_write_items(
            TransactItems=[
                {"Delete": {"TableName": self._table, "Key": _item({"pk": f"CONN#{connection_id}", "sk": "CONN"})}},
                {
                    "Delete": {
                        "TableName": self._table,
                        "Key": _item({"pk": f"IMAGE#{image_id}", "sk": f"CONN#{connection_id}"}),
                    }
                },
            ]
        )
        return image_id

    def watching(self, image_id: str) -> list[Watcher]:
        paginator = self._db.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :conn)",
            FilterExpression="expiresAt > :now",  # TTL deletes up to days late
            ExpressionAttributeValues=_item(
                {":pk": f"IMAGE#{image_id}", ":conn": "CONN#", ":now": _epoch(datetime.now(UTC))}
            ),
            ConsistentRead=True,
        )
        return sorted(_watcher(item) for page in pages for item in page.get("Items", []))

    def advance(self, image_id: str, stream: str, version: int, event_id: str) -> bool:
        try:
            self._db.update_item(
                TableName=self._table,
                Key=_item({"pk": f"IMAGE#{image_id}", "sk": f"PUSHED#{stream}"}),
                UpdateExpression="SET version = :v, eventId = :e, expiresAt = :x",
                ConditionExpression="attribute_not_exists(version) OR version < :v OR (version = :v AND eventId = :e)",
                ExpressionAttributeValues=_item(
                    {":v": version, ":e": event_id, ":x": _epoch(datetime.now(UTC) + PUSHED_RETENTION)}
                ),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

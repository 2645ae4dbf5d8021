"""DynamoDB adapter for the images table (single table design).

=================  ======================  =============================================
pk                 sk                      what
=================  ======================  =============================================
IMAGE#<imageId>    IMAGE                   the image record (written by the API)
IMAGE#<imageId>    EVENT#<eventId>         one recorded event (idempotent on the event id)
IMAGE#<imageId>    OPEN                    present while responses are due; indexed by
                                           ``OpenImages`` (openShard, deadline) for the sweeper
=================  ======================  =============================================
"""

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from image_pipeline.events import PipelineEvent
from image_pipeline.ports import ImageLog, ImageRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

OPEN_IMAGES_INDEX = "OpenImages"
_OPEN_SHARD = "OPEN"
_IMAGE_SK = "IMAGE"
_OPEN_SK = "OPEN"
_EVENT_PREFIX = "EVENT#"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _pk(image_id: str) -> str:
    return f"IMAGE#{image_id}"


def _timestamp(moment: datetime) -> str:
    """Fixed-width UTC timestamps, so string order is time order in the index."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _item(values: dict[str, Any]) -> "dict[str, AttributeValueTypeDef]":
    return {k: _serializer.serialize(v) for k, v in values.items()}


def _plain(item: "dict[str, Any]") -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


class DynamoImageLog(ImageLog):
    def __init__(self, table_name: str, client: "DynamoDBClient | None" = None) -> None:
        self._table = table_name
        self._db = client or boto3.client("dynamodb")

    def _event_item(self, event: PipelineEvent) -> "dict[str, AttributeValueTypeDef]":
        return _item(
            {
                "pk": _pk(event.image_id),
                "sk": f"{_EVENT_PREFIX}{event.event_id}",
                "eventType": event.type.value,
                "occurredAt": _timestamp(event.occurred_at),
                "recordedAt": _timestamp(datetime.now(UTC)),
                # The whole envelope as JSON: exact floats, no Decimal round trip.
                "detail": json.dumps(event.detail(), separators=(",", ":")),
            }
        )

    def create_image(self, record: ImageRecord, first_event: PipelineEvent) -> None:
        image = _item(
            {
                "pk": _pk(record.image_id),
                "sk": _IMAGE_SK,
                "imageId": record.image_id,
                "filename": record.filename,
                "contentType": record.content_type,
                "uploadKey": record.upload_key,
                "createdAt": _timestamp(record.created_at),
            }
        )
        self._db.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": image,
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {"Put": {"TableName": self._table, "Item": self._event_item(first_event)}},
            ]
        )

    def get_image(self, image_id: str) -> ImageRecord | None:
        response = self._db.get_item(
            TableName=self._table, Key=_item({"pk": _pk(image_id), "sk": _IMAGE_SK}), ConsistentRead=True
        )
        if "Item" not in response:
            return None
        item = _plain(response["Item"])
        return ImageRecord(
            image_id=item["imageId"],
            filename=item["filename"],
            content_type=item["contentType"],
            upload_key=item["uploadKey"],
            created_at=datetime.fromisoformat(item["createdAt"]),
        )

    def append(self, event: PipelineEvent) -> bool:
        try:
            self._db.put_item(
                TableName=self._table,
                Item=self._event_item(event),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def events(self, image_id: str) -> list[PipelineEvent]:
        paginator = self._db.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            KeyConditionExpression="pk = :pk AND begins_with(sk, :events)",
            ExpressionAttributeValues=_item({":pk": _pk(image_id), ":events": _EVENT_PREFIX}),
            ConsistentRead=True,
        )
        events = [
            PipelineEvent.from_detail(str(item["eventType"]["S"]), json.loads(str(item["detail"]["S"])))
            for page in pages
            for item in page.get("Items", [])
        ]
        return sorted(events, key=lambda e: (e.occurred_at, e.event_id))

    def set_deadline(self, image_id: str, deadline: datetime | None) -> None:
        key = {"pk": _pk(image_id), "sk": _OPEN_SK}
        if deadline is None:
            self._db.delete_item(TableName=self._table, Key=_item(key))
            return
        self._db.put_item(
            TableName=self._table,
            Item=_item({**key, "imageId": image_id, "openShard": _OPEN_SHARD, "deadline": _timestamp(deadline)}),
        )

    def overdue(self, now: datetime, limit: int = 100) -> list[str]:
        response = self._db.query(
            TableName=self._table,
            IndexName=OPEN_IMAGES_INDEX,
            KeyConditionExpression="openShard = :open AND deadline <= :now",
            ExpressionAttributeValues=_item({":open": _OPEN_SHARD, ":now": _timestamp(now)}),
            Limit=limit,
        )
        return [str(item["imageId"]["S"]) for item in response.get("Items", [])]

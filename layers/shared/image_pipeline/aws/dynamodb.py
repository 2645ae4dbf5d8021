"""DynamoDB adapter for the images table (single table design).

=================  ======================  =============================================
pk                 sk                      what
=================  ======================  =============================================
IMAGE#<imageId>    IMAGE                   the image record (API or IntakeFunction); indexed
                                           by ``ImagesByCreation`` (listShard, createdAt)
IMAGE#<imageId>    EVENT#<eventId>         one recorded event (idempotent on the event id)
IMAGE#<imageId>    OPEN                    present while the image waits for something;
                                           indexed by ``OpenImages`` (openShard, deadline)
IMAGE#<imageId>    CLAIM#<verdictId>       a sweeper's verdict, counted once
IMAGE#<imageId>    STATUS                  the tracker's latest ImageStatusChanged (``version``,
                                           ``event``, ``published``): the one status, changed
                                           only by a writer that read the version it replaces
IMAGE#<imageId>    STATUS#EDIT#<editId>    the same for one edit (EditStatusChanged)
=================  ======================  =============================================

Every item but OPEN carries ``expiresAt`` (DynamoDB TTL) when a retention is configured.
``ImagesByCreation`` has one partition: enough for the API's throttled rate of new images
(a partition takes 1,000 writes/s); shard it by day if uploads outgrow that.
"""

import base64
import binascii
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from image_pipeline.events import PipelineEvent
from image_pipeline.ports import Announcement, ImageLog, ImagePage, ImageRecord

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import AttributeValueTypeDef

OPEN_IMAGES_INDEX = "OpenImages"
IMAGES_BY_CREATION_INDEX = "ImagesByCreation"
_OPEN_SHARD = "OPEN"
_LIST_SHARD = "IMAGES"
_CURSOR_KEYS = frozenset({"pk", "sk", "listShard", "createdAt"})
_IMAGE_SK = "IMAGE"
_OPEN_SK = "OPEN"
_EVENT_PREFIX = "EVENT#"
_CLAIM_PREFIX = "CLAIM#"
_STATUS_SK = "STATUS"

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def _pk(image_id: str) -> str:
    return f"IMAGE#{image_id}"


def _status_key(image_id: str, edit_id: str | None) -> "dict[str, AttributeValueTypeDef]":
    """Where the image's announced status is kept, or one edit's."""
    return _item({"pk": _pk(image_id), "sk": _STATUS_SK if edit_id is None else f"{_STATUS_SK}#EDIT#{edit_id}"})


def _timestamp(moment: datetime) -> str:
    """Fixed-width UTC timestamps, so string order is time order in the index."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _item(values: dict[str, Any]) -> "dict[str, AttributeValueTypeDef]":
    return {k: _serializer.serialize(v) for k, v in values.items()}


def _plain(item: "dict[str, Any]") -> dict[str, Any]:
    return {k: _deserializer.deserialize(v) for k, v in item.items()}


def _conditional_put(client: "DynamoDBClient", table: str, item: "dict[str, AttributeValueTypeDef]") -> bool:
    try:
        client.put_item(TableName=table, Item=item, ConditionExpression="attribute_not_exists(pk)")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True


def _encode_cursor(key: dict[str, Any]) -> str:
    plain = {name: value["S"] for name, value in key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain, sort_keys=True).encode()).decode()


def _decode_cursor(cursor: str) -> "dict[str, AttributeValueTypeDef]":
    try:
        plain = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        plain = None
    if not isinstance(plain, dict) or set(plain) != _CURSOR_KEYS or not all(isinstance(v, str) for v in plain.values()):
        raise ValueError("cursor is not one this API issued: pass back nextCursor unchanged")
    return _item(plain)


class DynamoImageLog(ImageLog):
    def __init__(self, table_name: str, client: "DynamoDBClient | None" = None, retention_days: int = 0) -> None:
        self._table = table_name
        self._db = client or boto3.client("dynamodb")
        self._retention = timedelta(days=retention_days) if retention_days > 0 else None

    def _expiry(self) -> dict[str, int]:
        """DynamoDB TTL: the item goes once the retention has passed (none when keeping forever)."""
        if self._retention is None:
            return {}
        return {"expiresAt": int((datetime.now(UTC) + self._retention).timestamp())}

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
                **self._expiry(),
            }
        )

    def _image_item(self, record: ImageRecord) -> "dict[str, AttributeValueTypeDef]":
        values: dict[str, Any] = {
            "pk": _pk(record.image_id),
            "sk": _IMAGE_SK,
            "imageId": record.image_id,
            "filename": record.filename,
            "uploadKey": record.upload_key,
            "createdAt": _timestamp(record.created_at),
            "origin": record.origin,
            "listShard": _LIST_SHARD,
            **self._expiry(),
        }
        if record.content_type:
            values["contentType"] = record.content_type
        if record.callback_url:
            values["callbackUrl"] = record.callback_url
        return _item(values)

    def create_image(self, record: ImageRecord, first_event: PipelineEvent) -> None:
        self._db.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": self._table,
                        "Item": self._image_item(record),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {"Put": {"TableName": self._table, "Item": self._event_item(first_event)}},
            ]
        )

    def ensure_image(self, record: ImageRecord) -> bool:
        return _conditional_put(self._db, self._table, self._image_item(record))

    @staticmethod
    def _record(item: dict[str, Any]) -> ImageRecord:
        return ImageRecord(
            image_id=item["imageId"],
            filename=item["filename"],
            content_type=item.get("contentType"),
            upload_key=item["uploadKey"],
            created_at=datetime.fromisoformat(item["createdAt"]),
            origin=item.get("origin", "api"),
            callback_url=item.get("callbackUrl"),
        )

    def get_image(self, image_id: str) -> ImageRecord | None:
        response = self._db.get_item(
            TableName=self._table, Key=_item({"pk": _pk(image_id), "sk": _IMAGE_SK}), ConsistentRead=True
        )
        if "Item" not in response:
            return None
        return self._record(_plain(response["Item"]))

    def list_images(self, *, limit: int, cursor: str | None = None) -> ImagePage:
        extra: dict[str, Any] = {"ExclusiveStartKey": _decode_cursor(cursor)} if cursor else {}
        response = self._db.query(
            TableName=self._table,
            IndexName=IMAGES_BY_CREATION_INDEX,
            KeyConditionExpression="listShard = :images",
            ExpressionAttributeValues=_item({":images": _LIST_SHARD}),
            ScanIndexForward=False,  # newest first
            Limit=limit,
            **extra,
        )
        records = [self._record(_plain(item)) for item in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        return ImagePage(images=records, cursor=_encode_cursor(dict(last)) if last else None)

    def append(self, event: PipelineEvent) -> bool:
        return _conditional_put(self._db, self._table, self._event_item(event))

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

    def set_deadline(self, image_id: str, deadline: datetime | None, *, seen: int) -> None:
        # Two trackers recording the same image at once each write the deadline of what they read:
        # the view of more events wins (the log only grows), so a stale one never closes an open image.
        values: dict[str, Any] = {":seen": seen, ":id": image_id, **{f":{k}": v for k, v in self._expiry().items()}}
        expiry = ", expiresAt = :expiresAt" if ":expiresAt" in values else ""
        if deadline is None:
            update = f"SET seen = :seen, imageId = :id{expiry} REMOVE openShard, deadline"
        else:
            update = f"SET seen = :seen, imageId = :id, openShard = :open, deadline = :deadline{expiry}"
            values |= {":open": _OPEN_SHARD, ":deadline": _timestamp(deadline)}
        try:
            self._db.update_item(
                TableName=self._table,
                Key=_item({"pk": _pk(image_id), "sk": _OPEN_SK}),
                UpdateExpression=update,
                ConditionExpression="attribute_not_exists(seen) OR seen <= :seen",
                ExpressionAttributeValues=_item(values),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise  # (failed: a view of more events already set the deadline)

    def look_by(self, image_id: str, deadline: datetime) -> None:
        expiry = self._expiry()
        try:
            self._db.update_item(
                TableName=self._table,
                Key=_item({"pk": _pk(image_id), "sk": _OPEN_SK}),
                UpdateExpression="SET imageId = :id, openShard = :open, deadline = :deadline"
                + (", expiresAt = :expiresAt" if expiry else ""),
                ConditionExpression="attribute_not_exists(deadline) OR deadline > :deadline",
                ExpressionAttributeValues=_item(
                    {":id": image_id, ":open": _OPEN_SHARD, ":deadline": _timestamp(deadline)}
                    | {f":{k}": v for k, v in expiry.items()}
                ),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise  # (failed: an earlier deadline is set)

    def overdue(self, now: datetime, limit: int = 1000) -> list[str]:
        paginator = self._db.get_paginator("query")
        pages = paginator.paginate(
            TableName=self._table,
            IndexName=OPEN_IMAGES_INDEX,
            KeyConditionExpression="openShard = :open AND deadline <= :now",
            ExpressionAttributeValues=_item({":open": _OPEN_SHARD, ":now": _timestamp(now)}),
            PaginationConfig={"MaxItems": limit, "PageSize": min(limit, 100)},
        )
        return [str(item["imageId"]["S"]) for page in pages for item in page.get("Items", [])]

    def announcement(self, image_id: str, edit_id: str | None = None) -> Announcement | None:
        key = _status_key(image_id, edit_id)
        item = self._db.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        if item is None:
            return None
        event = PipelineEvent.from_detail(str(item["eventType"]["S"]), json.loads(str(item["detail"]["S"])))
        return Announcement(event=event, published=bool(item["published"]["BOOL"]))

    def announce(self, change: PipelineEvent, *, replaces: int) -> bool:
        item = {
            **_status_key(change.image_id, change.data.get("editId")),
            **_item(
                {
                    "version": int(change.data["version"]),
                    "eventType": change.type.value,
                    "detail": json.dumps(change.detail(), separators=(",", ":")),
                    "published": False,
                    **self._expiry(),
                }
            ),
        }
        condition = "attribute_not_exists(pk)" if replaces == 0 else "version = :replaces"
        values = {} if replaces == 0 else {"ExpressionAttributeValues": _item({":replaces": replaces})}
        try:
            self._db.put_item(TableName=self._table, Item=item, ConditionExpression=condition, **values)  # type: ignore[arg-type]
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True

    def mark_published(self, image_id: str, version: int, edit_id: str | None = None) -> None:
        try:
            self._db.update_item(
                TableName=self._table,
                Key=_status_key(image_id, edit_id),
                UpdateExpression="SET published = :yes",
                ConditionExpression="version = :version",
                ExpressionAttributeValues=_item({":yes": True, ":version": version}),
            )
        except ClientError as exc:
            # a newer change replaced it meanwhile: that one is published by whoever stored it
            if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    def claim(self, image_id: str, claim_id: str) -> bool:
        item = _item({"pk": _pk(image_id), "sk": f"{_CLAIM_PREFIX}{claim_id}", **self._expiry()})
        return _conditional_put(self._db, self._table, item)

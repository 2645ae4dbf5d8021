"""DynamoDB adapter of the aggregates consumer's statistics (single table).

===============  ===============  ==================================================
pk               sk               what
===============  ===============  ==================================================
DAY#<date>       STATS            the day's counters, one attribute each (``events.ThumbnailCreated``)
IMAGE#<imageId>  EVENT#<eventId>  an event counted (its id once: the exactly-once marker)
IMAGE#<imageId>  STATUS           the image's status as the tracker last announced it (``version``;
                                  GraphQL's ``imageStatus``)
===============  ===============  ==================================================

Each marker is written in the same transaction as the counters it stands for.
"""

import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from image_pipeline.catalogue import ImageStatus
from image_pipeline.events import PipelineEvent
from image_pipeline.hub.aggregates import ImageStatusView, StatsStore, moved

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

STATS_SK = "STATS"
# Event markers expire (redeliveries come within days; the hub never republishes an event twice in
# its replay window); the daily counters and each image's status stay.
MARKER_TTL = timedelta(days=30)

_serialize = TypeSerializer().serialize
_deserialize = TypeDeserializer().deserialize


def day_key(day: str) -> dict[str, Any]:
    return {"pk": _serialize(f"DAY#{day}"), "sk": _serialize(STATS_SK)}


def _expires() -> int:
    return int((datetime.now(UTC) + MARKER_TTL).timestamp())


class DynamoStatsStore(StatsStore):
    def __init__(self, table_name: str, client: "DynamoDBClient | None" = None) -> None:
        self._table = table_name
        self._db = client or boto3.client("dynamodb")

    def _add(self, day: str, counters: Mapping[str, int]) -> "TransactWriteItemTypeDef":
        names = {f"#c{i}": name for i, name in enumerate(sorted(counters))}
        values = {f":c{i}": _serialize(counters[name]) for i, name in enumerate(sorted(counters))}
        return {
            "Update": {
                "TableName": self._table,
                "Key": day_key(day),
                "UpdateExpression": "ADD " + ", ".join(f"#c{i} :c{i}" for i in range(len(names))),
                "ExpressionAttributeNames": names,
                "ExpressionAttributeValues": values,
            }
        }

    def _put_once(self, item: dict[str, Any]) -> "TransactWriteItemTypeDef":
        return {
            "Put": {
                "TableName": self._table,
                "Item": {k: _serialize(v) for k, v in item.items()},
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }

    def _transact(self, items: "list[TransactWriteItemTypeDef]") -> bool:
        try:
            self._db.transact_write_items(TransactItems=items)
        except ClientError as exc:
            reasons = exc.response.get("CancellationReasons", [])
            if exc.response.get("Error", {}).get("Code") == "TransactionCanceledException" and any(
                r.get("Code") == "ConditionalCheckFailed" for r in reasons
            ):
                return False
            raise
        return True

    def record(self, event: PipelineEvent, counters: Mapping[str, int]) -> bool:
        marker = {
            "pk": f"IMAGE#{event.image_id}",
            "sk": f"EVENT#{event.event_id}",
            "eventType": event.type.value,
            "detail": json.dumps(event.detail(), separators=(",", ":")),
            "expiresAt": _expires(),
        }
        return self._transact([self._put_once(marker), self._add(event.occurred_at.date().isoformat(), counters)])

    def image_status(self, image_id: str) -> ImageStatusView | None:
        key = {"pk": _serialize(f"IMAGE#{image_id}"), "sk": _serialize("STATUS")}
        item = self._db.get_item(TableName=self._table, Key=key, ConsistentRead=True).get("Item")
        if item is None:
            return None
        plain = {k: _deserialize(v) for k, v in item.items()}
        latency = plain.get("latencyMs")
        return ImageStatusView(
            image_id=image_id,
            status=ImageStatus(plain["status"]),
            version=int(plain["version"]),
            reason_code=plain.get("reasonCode"),
            reason=plain.get("reason"),
            day=str(plain["day"]),
            latency_ms=int(latency) if latency is not None else None,
        )

    def apply_status(self, new: ImageStatusView, replaces: ImageStatusView | None) -> bool:
        item = {
            "pk": f"IMAGE#{new.image_id}",
            "sk": "STATUS",
            "imageId": new.image_id,
            "status": new.status.value,
            "version": new.version,
            "reasonCode": new.reason_code,
            "reason": new.reason,
            "day": new.day,
            "latencyMs": new.latency_ms,
        }
        put: TransactWriteItemTypeDef = {
            "Put": {"TableName": self._table, "Item": {k: _serialize(v) for k, v in item.items()}}
        }
        if replaces is None:
            put["Put"]["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["Put"]["ConditionExpression"] = "version = :replaces"
            put["Put"]["ExpressionAttributeValues"] = {":replaces": _serialize(replaces.version)}
        return self._transact([put, *(self._add(day, c) for day, c in moved(replaces, new).items() if c)])

    def daily(self, day: str) -> dict[str, int]:
        item = self._db.get_item(TableName=self._table, Key=day_key(day), ConsistentRead=True).get("Item", {})
        return {k: int(_deserialize(v)) for k, v in item.items() if k not in {"pk", "sk"}}

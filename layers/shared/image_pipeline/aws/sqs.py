"""SQS adapter: hands uploads to a queued job (make reprocess sends them to RenditionQueue)."""

import json
from collections.abc import Mapping, Sequence
from itertools import batched
from typing import TYPE_CHECKING, Any

import boto3

from image_pipeline.ports import JobFeed

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sqs.type_defs import SendMessageBatchRequestEntryTypeDef

MAX_ENTRIES_PER_CALL = 10  # SendMessageBatch limit


class SendFailed(RuntimeError):
    """SQS refused some messages; the caller must not treat them as sent."""


class SqsJobFeed(JobFeed):
    def __init__(self, queue_url: str, client: "SQSClient | None" = None) -> None:
        self._queue = queue_url
        self._sqs = client or boto3.client("sqs")

    def send(self, messages: Sequence[Mapping[str, Any]]) -> None:
        for chunk in batched(messages, MAX_ENTRIES_PER_CALL, strict=False):
            entries: list[SendMessageBatchRequestEntryTypeDef] = [
                {"Id": str(i), "MessageBody": json.dumps(m, separators=(",", ":"))} for i, m in enumerate(chunk)
            ]
            response = self._sqs.send_message_batch(QueueUrl=self._queue, Entries=entries)
            if failed := response.get("Failed"):
                reasons = sorted({f"{f.get('Code')}: {f.get('Message')}" for f in failed})
                raise SendFailed(f"{len(failed)} of {len(chunk)} messages not sent: {reasons}")

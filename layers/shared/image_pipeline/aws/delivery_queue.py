"""SQS adapter: webhook jobs wait on the delivery queue between attempts; given-up ones are
parked on its dead-letter queue."""

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import boto3

from image_pipeline.notify.ports import MAX_QUEUE_DELAY_SECONDS, DeliveryQueue

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class SqsDeliveryQueue(DeliveryQueue):
    def __init__(self, queue_url: str, dead_letter_url: str, client: "SQSClient | None" = None) -> None:
        self._queue = queue_url
        self._dead_letters = dead_letter_url
        self._sqs = client or boto3.client("sqs")

    def later(self, message: Mapping[str, Any], delay_seconds: int) -> None:
        if not 0 <= delay_seconds <= MAX_QUEUE_DELAY_SECONDS:
            raise ValueError(f"an SQS delay is 0-{MAX_QUEUE_DELAY_SECONDS} s, not {delay_seconds}")
        self._sqs.send_message(
            QueueUrl=self._queue, MessageBody=json.dumps(message, separators=(",", ":")), DelaySeconds=delay_seconds
        )

    def dead_letter(self, message: Mapping[str, Any]) -> None:
        self._sqs.send_message(QueueUrl=self._dead_letters, MessageBody=json.dumps(message, separators=(",", ":")))

"""Firehose adapter of the history consumer's archive: one JSON record per line."""

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import boto3

if TYPE_CHECKING:
    from mypy_boto3_firehose import FirehoseClient


class FirehoseArchive:
    def __init__(self, stream_name: str, client: "FirehoseClient | None" = None) -> None:
        self._stream = stream_name
        self._firehose = client or boto3.client("firehose")

    def put(self, record: Mapping[str, Any]) -> str:
        """Put one record (newline-terminated JSON, as the rule's template makes it on AWS); its id."""
        data = json.dumps(record, separators=(",", ":")) + "\n"
        response = self._firehose.put_record(DeliveryStreamName=self._stream, Record={"Data": data.encode()})
        return str(response["RecordId"])

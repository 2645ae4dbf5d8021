"""ArchiveBridge (local engine only): the archive rule's records, from its queue, onto the stream
unchanged and one per line; a record that is not JSON fails alone."""

import json
from collections.abc import Callable
from types import ModuleType

import boto3
from botocore.stub import Stubber

from image_pipeline.aws.archive import FirehoseArchive
from tests.conftest import load_event

HISTORY = "consumers/history/template.yaml"


def test_the_bridge_puts_each_queued_record_on_the_stream_and_fails_a_broken_one_alone(
    load_handler: Callable[..., ModuleType], lambda_context: object
) -> None:
    module = load_handler("ArchiveBridge", HISTORY, DELIVERY_STREAM_NAME="history-stream")
    firehose = boto3.client("firehose", region_name="us-east-1")
    # Given two records as the rule's input transformer makes them, and one that is not JSON
    records = [
        {"event_id": f"e{n}", "image_id": "a" * 32, "type": "ThumbnailCreated", "source": "valid.image-pipeline"}
        for n in (1, 2)
    ]
    template = load_event("sqs-rendition-batch.json")["Records"][0]
    batch = {
        "Records": [
            {**template, "messageId": "m1", "body": json.dumps(records[0])},
            {**template, "messageId": "broken", "body": "{not json"},
            {**template, "messageId": "m2", "body": json.dumps(records[1])},
        ]
    }
    with Stubber(firehose) as stub:
        for n, record in enumerate(records):
            line = json.dumps(record, separators=(",", ":")) + "\n"
            stub.add_response(
                "put_record",
                {"RecordId": f"r{n}"},
                {"DeliveryStreamName": "history-stream", "Record": {"Data": line.encode()}},
            )
        result = module.lambda_handler(batch, lambda_context, FirehoseArchive("history-stream", firehose))
        stub.assert_no_pending_responses()
    # Then both good records are on the stream, in order, and only the broken one comes back
    assert result == {"batchItemFailures": [{"itemIdentifier": "broken"}]}

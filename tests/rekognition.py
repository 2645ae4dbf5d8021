"""Rekognition as tests meet it: the response shapes its API reference documents, and a real
boto3 client (with the adapter's retry configuration) whose HTTP answers are served from memory,
so botocore's own retry logic runs on them as it would on the wire."""

import json
from collections.abc import Callable, Iterator
from typing import Any, cast

import boto3
from botocore.awsrequest import AWSResponse
from botocore.compat import HTTPHeaders

from image_pipeline.aws.rekognition import CLIENT_CONFIG

# Response shapes as the API reference documents them (DetectLabels: parents, instances, aliases
# and categories; DetectModerationLabels: a three-level taxonomy, "" as a top-level parent;
# DetectFaces: boxes as ratios, which may reach past an edge for a face cut off by it).
LABELS = {
    "Labels": [
        {
            "Name": "Car",
            "Confidence": 99.15,
            "Instances": [{"BoundingBox": {"Width": 0.1, "Height": 0.2, "Left": 0.3, "Top": 0.4}, "Confidence": 99.1}],
            "Parents": [{"Name": "Transportation"}, {"Name": "Vehicle"}],
            "Aliases": [{"Name": "Automobile"}],
            "Categories": [{"Name": "Vehicles and Automotive"}],
        },
        {"Name": "Transportation", "Confidence": 99.15, "Instances": [], "Parents": []},
    ],
    "LabelModelVersion": "3.0",
}
MODERATION = {
    "ModerationLabels": [
        {"Confidence": 86.5, "Name": "Suggestive", "ParentName": "", "TaxonomyLevel": 1},
        {"Confidence": 86.5, "Name": "Swimwear or Underwear", "ParentName": "Suggestive", "TaxonomyLevel": 2},
        {
            "Confidence": 61.2,
            "Name": "Female Swimwear or Underwear",
            "ParentName": "Swimwear or Underwear",
            "TaxonomyLevel": 3,
        },
    ],
    "ModerationModelVersion": "7.0",
    "ContentTypes": [{"Confidence": 92.0, "Name": "Animated"}],
}
FACES = {
    "FaceDetails": [
        {
            "BoundingBox": {"Width": 0.24, "Height": 0.18, "Left": 0.5556, "Top": 0.3367},
            "Confidence": 99.99,
            "Landmarks": [{"Type": "eyeLeft", "X": 0.64, "Y": 0.41}],
            "Pose": {"Roll": 1.0, "Yaw": 13.7, "Pitch": 4.1},
            "Quality": {"Brightness": 37.6, "Sharpness": 80.0},
        },
        {"BoundingBox": {"Width": 0.2, "Height": 0.3, "Left": -0.05, "Top": 0.8}, "Confidence": 91.0},
    ]
}


class _Raw:
    def __init__(self, body: bytes) -> None:
        self.body = body

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self.body


def http_answer(status: int, body: dict[str, Any]) -> AWSResponse:
    headers = HTTPHeaders()
    headers["Content-Type"] = "application/x-amz-json-1.1"
    headers["x-amzn-RequestId"] = "test"
    return AWSResponse("https://rekognition.us-east-1.amazonaws.com/", status, headers, _Raw(json.dumps(body).encode()))


THROTTLED = (400, {"__type": "ThrottlingException", "message": "Rate exceeded"})


def served_client(answers: dict[str, list[tuple[int, dict[str, Any]]]]) -> tuple[Any, dict[str, int]]:
    """A real client whose HTTP answers come from ``answers`` (per operation, in order; the last
    one repeats): botocore's retry logic runs on them as on the wire."""
    client = boto3.client(  # the adapter's retry configuration; requests are signed as on AWS
        "rekognition",
        region_name="us-east-1",
        config=CLIENT_CONFIG,
        aws_access_key_id="test",
        aws_secret_access_key="test",
    )
    sends = dict.fromkeys(answers, 0)

    def send(request: Any, **_: Any) -> AWSResponse:
        operation = request.headers["X-Amz-Target"].decode().split(".")[-1]
        queue = answers[operation]
        status, body = queue[min(sends[operation], len(queue) - 1)]
        sends[operation] += 1
        return http_answer(status, body)

    # A before-send handler that returns a response stands in for the HTTP round trip.
    client.meta.events.register("before-send.rekognition", cast("Callable[..., None]", send))
    return client, sends

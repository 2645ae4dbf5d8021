"""Moderation on the local engine, with the bundled model (the local deploy's RecognitionBackend=onnx)
scoring a benign photo for real: with RecognizeFunction's threshold set below the photo's own score,
the image ends REJECTED (moderation) and none of the outputs the other jobs made is served.

The threshold is changed on the deployed function (its MODERATION_THRESHOLD, which the template sets
from the ModerationThreshold parameter: tests/unit/test_recognize_template.py) for this test only,
rather than deploying the whole stack a second time."""

from collections.abc import Iterator
from typing import Any

import boto3
import pytest

from image_pipeline.imaging import PREVIEWS, THUMBNAIL, WEB_RENDITIONS
from tests.conftest import EVENTS
from tests.integration.conftest import settled, upload_image, wait_for
from tools.client import PipelineClient, content_type_for
from tools.hub import Aggregates
from tools.stack import Stack

FLAGGING_THRESHOLD = "0.001"  # below the coffee photo's open_nsfw score (the cat's is lower still)


def _configured(function: str, variables: dict[str, str]) -> Any:
    lambda_ = boto3.client("lambda")
    lambda_.update_function_configuration(FunctionName=function, Environment={"Variables": variables})
    return wait_for(
        lambda: (
            (c := lambda_.get_function_configuration(FunctionName=function)).get("LastUpdateStatus", "Successful")
            == "Successful"
            and c["Environment"]["Variables"] == variables
        ),
        timeout=60,
    )


@pytest.fixture
def flagging(stack: Stack) -> Iterator[str]:
    """RecognizeFunction with a threshold that flags every photo, restored afterwards."""
    function = stack.physical_id("RecognizeFunction")
    deployed = boto3.client("lambda").get_function_configuration(FunctionName=function)["Environment"]["Variables"]
    assert deployed["RECOGNITION_BACKEND"] == "onnx"
    _configured(function, {**deployed, "MODERATION_THRESHOLD": FLAGGING_THRESHOLD})
    try:
        yield function
    finally:
        _configured(function, deployed)


def test_a_photo_flagged_by_the_bundled_model_ends_rejected_and_nothing_of_it_is_served(
    client: PipelineClient, stack: Stack, flagging: str
) -> None:
    # Given a benign sample photo, and the threshold below its score (open_nsfw scores it ~0.005)
    path = EVENTS / "images" / "coffee-landscape.jpg"
    image_id = upload_image(client, path.read_bytes(), path.name, content_type_for(path.name))
    # When the pipeline has answered
    image = settled(client, image_id)
    # Then it is rejected for moderation, naming the model's label, with its verdict shown
    assert (image["status"], image["reasonCode"]) == ("REJECTED", "moderation"), image
    moderation = image["recognition"]["moderation"]
    assert (image["recognition"]["backend"], moderation["flagged"]) == ("onnx", True)
    assert moderation["threshold"] == float(FLAGGING_THRESHOLD)
    assert [label["name"] for label in moderation["labels"]] == ["NSFW"]
    # And what the other jobs made, once they have all answered, is listed but has no link
    made = {spec.name for spec in (THUMBNAIL, *WEB_RENDITIONS, *PREVIEWS)}
    image = wait_for(lambda: made <= set((i := client.get_image(image_id))["outputs"]) and i, timeout=90)
    assert {(o["url"], o["withheld"]) for o in image["outputs"].values()} == {(None, "moderation")}
    # And the tracker's verdict, carried by the hub to the aggregates consumer, says so
    aggregates = Aggregates(Stack(f"{stack.name}-aggregates", endpoint_url=stack.endpoint_url))
    applied = wait_for(lambda: (a := aggregates.image_status(image_id)) and a["status"] == "REJECTED" and a, 60)
    assert applied["reasonCode"] == "moderation"
    assert "NSFW" in applied["reason"]

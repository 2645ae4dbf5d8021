"""A response that never comes: with the analyzer cut off, the image ends STALLED, reported by
its status, an ImageProcessingStalled event and the StalledImages metric."""

import json
import time
from datetime import UTC, datetime

import boto3

from tests.conftest import load_event
from tests.integration.conftest import STALL_TIMEOUT_SECONDS, invoke, upload_image, wait_for
from tests.integration.test_pipeline import _jpeg
from tools.client import PipelineClient
from tools.stack import Stack


def _stalled_counts(stack: Stack, since: datetime) -> list[float]:
    """The StalledImages value of every EMF record the sweeper logged since ``since``."""
    logs = boto3.client("logs")
    group = f"/aws/lambda/{stack.physical_id('StallSweeperFunction')}"
    events = logs.filter_log_events(logGroupName=group, startTime=int(since.timestamp() * 1000))["events"]
    counts = []
    for event in events:
        text = event["message"]
        if '"StalledImages"' in text:
            value = json.loads(text[text.index("{") :])["StalledImages"]  # Powertools writes a list
            counts.append(float(sum(value) if isinstance(value, list) else value))
    return counts


def test_a_missing_response_ends_stalled_with_event_and_metric(client: PipelineClient, stack: Stack) -> None:
    events = boto3.client("events")
    rule = stack.physical_id("AnalyzeFunctionUploaded")  # the analysis job's own rule (SAM names it)
    analyzer = events.list_targets_by_rule(Rule=rule)["Targets"]
    assert analyzer
    started = datetime.now(UTC)
    events.remove_targets(Rule=rule, Ids=[t["Id"] for t in analyzer])  # the analyzer is "down"
    try:
        # Given an upload the analyzer never hears about
        image_id = upload_image(client, _jpeg(), "lonely.jpg", "image/jpeg")
        wait_for(lambda: client.get_image(image_id)["missing"] == ["ImageAnalyzed"], timeout=90)
        # When its deadline passes and the sweeper runs (its schedule may have beaten us to it)
        time.sleep(STALL_TIMEOUT_SECONDS + 1)
        swept = invoke(stack, "StallSweeperFunction", load_event("schedule.json"))
        assert swept.ok, swept.logs
        # Then the image reads STALLED and says what never came
        image = wait_for(lambda: (i := client.get_image(image_id))["status"] == "STALLED" and i, timeout=30)
        assert image["missing"] == ["ImageAnalyzed"]
        assert "ImageAnalyzed" in image["reason"]
        trace = client.get_trace(image_id)
        stall = [e for e in trace["events"] if e["type"] == "ImageProcessingStalled"]
        assert len(stall) == 1
        assert stall[0]["source"] == "StallSweeper"
        assert trace["missing"] == ["ImageAnalyzed"]
        # And the sweeper emitted the metric the StalledImagesAlarm watches, counting the stall once
        # (scheduled sweeps and the one invoked above may overlap: only the one that claims it counts)
        counts = wait_for(lambda: [c for c in _stalled_counts(stack, started) if c], timeout=30)
        assert counts == [1.0]
        assert swept.payload is not None
    finally:
        events.put_targets(Rule=rule, Targets=analyzer)

"""make reprocess on the local engine, for real: stored images, a spec changed the way a team
changes it (a build with one more rendition width, deployed), then the ReprocessWorkflow. Every
image's renditions move to the new spec version exactly once, a broken image fails its item alone
with the job's reason, a second run does nothing, and the API, the trace, the aggregates and the
archive account for it. The uploads are written under a prefix of their own (any client may write
under uploads/), and the runs are limited to it, so other tests' images are not part of them."""

import io
import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from functools import partial
from typing import Any

import boto3
import pytest
from PIL import Image

from image_pipeline.aws.dynamodb import DynamoImageLog
from image_pipeline.catalogue import EventType
from image_pipeline.keys import image_id_for_key
from tests import spec_change
from tests.conftest import sample_images
from tests.integration.conftest import wait_for
from tests.template import ROOT
from tools.client import ApiError, PipelineClient
from tools.engine import LocalEngine
from tools.hub import Aggregates, Archive, today
from tools.stack import Stack

TOLERATED = "25"  # one broken image among five is within it


@pytest.fixture(scope="module")
def prefix() -> str:
    return f"uploads/reprocess-{uuid.uuid4().hex[:8]}/"


def _environment(engine: LocalEngine) -> dict[str, str]:
    return {**engine.client_env(), "PORT": str(engine.port), "TOLERATED_FAILURE_PERCENTAGE": TOLERATED}


@pytest.fixture(scope="module")
def stored(client: PipelineClient, stack: Stack, prefix: str) -> dict[str, str]:
    """Four good images and a truncated one, written under ``prefix`` and settled: key -> image id."""
    s3, bucket = boto3.client("s3"), stack.outputs["ImagesBucketName"]
    photos = {f"{prefix}{path.stem}.{path.suffix.lstrip('.')}": path.read_bytes() for path in sample_images()}
    buffer = io.BytesIO()
    Image.radial_gradient("L").resize((900, 600)).convert("RGB").save(buffer, "JPEG", quality=90)
    photos[f"{prefix}broken.jpg"] = buffer.getvalue()[:4000]
    for key, data in photos.items():
        s3.put_object(Bucket=bucket, Key=key, Body=data)
    images = {key: image_id_for_key(key) for key in photos}

    def settled(image_id: str) -> bool:
        try:
            return client.get_image(image_id)["status"] in {"COMPLETE", "REJECTED"}
        except ApiError as error:
            if error.status != 404:  # 404: not registered yet
                raise
            return False

    for image_id in images.values():
        wait_for(partial(settled, image_id), timeout=180)
    return images


@pytest.fixture(scope="module")
def new_specs(engine: LocalEngine, stack: Stack, stored: dict[str, str]) -> Iterator[spec_change.Build]:
    """The stack deployed with one more rendition width; the original build again afterwards."""
    original, changed = spec_change.original(), spec_change.with_a_new_width()
    assert changed.spec_version != original.spec_version
    spec_change.deploy(changed, stack.name, _environment(engine))
    yield changed
    spec_change.deploy(original, stack.name, _environment(engine))


def _reprocess(engine: LocalEngine, command: str, prefix: str) -> tuple[dict[str, Any], str]:
    """`python -m tools.reprocess <command>` as `make reprocess` runs it: its report and its output."""
    done = subprocess.run(
        [sys.executable, "-m", "tools.reprocess", command, "--prefix", prefix, "--json"],
        env={**os.environ, **_environment(engine), "PYTHONPATH": "layers/shared", "STACK_NAME": "image-pipeline-local"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    *said, report = done.stdout.strip().splitlines()
    return json.loads(report), "\n".join(said)


def _events(stack: Stack, image_id: str) -> list[Any]:
    return DynamoImageLog(stack.outputs["ImagesTableName"]).events(image_id)


def test_a_spec_change_moves_every_images_outputs_to_the_new_version_once_and_a_rerun_does_nothing(
    engine: LocalEngine,
    stack: Stack,
    client: PipelineClient,
    prefix: str,
    stored: dict[str, str],
    new_specs: spec_change.Build,
) -> None:
    good = {k: i for k, i in stored.items() if not k.endswith("broken.jpg")}
    (broken,) = set(stored.values()) - set(good.values())
    aggregates = Aggregates(Stack(f"{stack.name}-aggregates", endpoint_url=engine.url))
    before = aggregates.daily(today())
    # Given images made to the old specs, which the API now calls out of date
    for image_id in good.values():
        image = client.get_image(image_id)
        assert image["specs"]["renditions"]["madeTo"] == spec_change.original().spec_version
        assert image["specs"]["renditions"]["latest"] == new_specs.spec_version
        assert image["outputsCurrent"] is False
    # When the dry run counts them, then make reprocess runs
    estimate, _ = _reprocess(engine, "dry-run", prefix)
    assert estimate["counts"] == {"to render": len(stored)}
    assert estimate["specVersion"] == new_specs.spec_version
    assert estimate["estimate"]["images"] == len(stored)
    report, said = _reprocess(engine, "run", prefix)
    # Then the run ends within its tolerated failures: the broken image failed alone, with its reason
    assert report["status"] == "SUCCEEDED"
    assert (report["items"]["total"], report["items"]["succeeded"], report["items"]["failed"]) == (5, 4, 1)
    assert report["outcomes"] == {"rendered": 4}
    (failure,) = report["failures"]
    assert failure.startswith(f"{prefix}broken.jpg: truncated")
    progress = [line for line in said.splitlines() if " done, " in line]
    assert progress[-1].endswith("] 4/5 done, 1 failed, 0 remaining (0 running)")
    # And every good image shows one complete set at the new specs, the added width among them
    for image_id in good.values():
        image = client.get_image(image_id)
        assert image["status"] == "COMPLETE"
        assert image["outputsCurrent"] is True
        renditions = {n: o for n, o in image["outputs"].items() if n != "thumbnail"}
        assert f"w{spec_change.ADDED}-jpeg" in renditions
        assert {o["key"].split("/")[3] for o in renditions.values()} == {new_specs.spec_version}
        # made exactly once: one answer at the new specs, paired with one request, in the trace
        events = _events(stack, image_id)
        made = [
            e
            for e in events
            if e.type is EventType.RENDITIONS_CREATED and e.data.get("specVersion") == new_specs.spec_version
        ]
        (request,) = [e for e in events if e.type is EventType.REPROCESS_REQUESTED]
        assert [e.causation_id for e in made] == [request.event_id]
        trace = client.get_trace(image_id)
        answered = [e for e in trace["events"] if e["eventId"] == made[0].event_id]
        assert answered[0]["answers"] == {"type": "ReprocessRequested", "eventId": request.event_id}
    # And the broken image's refusal took the usual path, recorded against it, its status unchanged
    refused = [e for e in _events(stack, broken) if e.type is EventType.IMAGE_REJECTED and e.data.get("reprocess")]
    assert [e.data["reason"] for e in refused] == ["truncated"]
    assert client.get_image(broken)["status"] == "REJECTED"
    # When make reprocess runs again, it asks for nothing and records nothing
    recorded = {i: len(_events(stack, i)) for i in stored.values()}
    again, _ = _reprocess(engine, "run", prefix)
    assert again["outcomes"] == {"current": 4}
    assert (again["items"]["failed"], again["status"]) == (1, "SUCCEEDED")
    assert {i: len(_events(stack, i)) for i in stored.values()} == recorded

    # And the aggregates count the reprocessing apart from new uploads; the archive tells them apart
    def counted(day: Any) -> bool:
        grew = {
            "renditions": day.reprocessed.get("renditions", 0) - before.reprocessed.get("renditions", 0),
            "rejects": day.reprocessed.get("rejects.truncated", 0) - before.reprocessed.get("rejects.truncated", 0),
            "requests": day.events.get("ReprocessRequested", 0) - before.events.get("ReprocessRequested", 0),
        }
        return grew == {"renditions": 4, "rejects": 1, "requests": 5}

    wait_for(lambda: counted(aggregates.daily(today())), timeout=180, interval=5)
    archive = Archive(Stack(f"{stack.name}-history", endpoint_url=engine.url))

    def reprocessed_in_archive() -> int:
        rows = archive.report("reprocessing")
        return sum(
            int(str(r["events"])) for r in rows if r["type"] == "RenditionsCreated" and r["made_for"] == "reprocess"
        )

    wait_for(lambda: reprocessed_in_archive() >= 4, timeout=180, interval=5)

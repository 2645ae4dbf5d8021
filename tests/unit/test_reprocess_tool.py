"""make reprocess's command: what its dry run estimates, how it shows a run's progress and how it
reports a run's end (DescribeMapRun and the failed children, as Step Functions answers them)."""

import json
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from tools.reprocess import Timing, bar, estimate, finish, newest_manifest, progress_line

ONE_CORE = Timing(cpu_seconds=1.0, wall_seconds=1.0)


def _estimate(images: int = 1000, concurrency: int = 10, memory: int = 2048, timing: Timing = ONE_CORE) -> Any:
    return estimate(images, timing, worker_memory_mb=memory, architecture="arm64", concurrency=concurrency)


def test_cost_and_time_grow_with_the_images_and_time_shrinks_with_concurrency() -> None:
    base = _estimate()
    double = _estimate(images=2000)
    assert double.cpu_seconds == 2 * base.cpu_seconds
    assert sum(double.cost.values()) == pytest.approx(2 * sum(base.cost.values()))
    assert double.wall_seconds == pytest.approx(2 * base.wall_seconds)
    assert _estimate(concurrency=20).wall_seconds == pytest.approx(base.wall_seconds / 2)


@pytest.mark.parametrize(
    ("memory", "timing", "seconds"),
    [
        (1769, ONE_CORE, 1.0),  # one vCPU, a one-core job: as fast as here
        (3538, ONE_CORE, 1.0),  # two vCPUs buy a one-core job nothing
        (3538, Timing(2.0, 1.0), 1.0),  # ...but a two-core job runs twice as fast
        (884, ONE_CORE, 2.0),  # half a vCPU: twice as long
    ],
)
def test_the_renders_duration_is_its_cpu_over_the_cores_it_can_use(memory: int, timing: Timing, seconds: float) -> None:
    assert _estimate(memory=memory, timing=timing).lambda_seconds == pytest.approx(seconds, rel=0.01)


def test_the_workers_compute_is_priced_at_the_list_price_of_its_cpu() -> None:
    guess = estimate(1_000_000, ONE_CORE, worker_memory_mb=2048, architecture="arm64", concurrency=10)
    # a one-core job: 1 s per image at 2 GB, 1M x 2 GB-s x $0.0000133334 + 1M requests x $0.20 per million
    assert guess.cost["RenditionWorker"] == pytest.approx(26.87, rel=0.001)
    x86 = estimate(1_000_000, ONE_CORE, worker_memory_mb=2048, architecture="x86_64", concurrency=10)
    assert x86.cost["RenditionWorker"] == pytest.approx(2e6 * 0.0000166667 + 0.20, rel=0.001)


@pytest.mark.parametrize(
    ("done", "failed", "total", "drawn"),
    [
        (0, 0, 10, "[..........]"),
        (5, 0, 10, "[#####.....]"),
        (4, 1, 10, "[####x.....]"),
        (9, 0, 10, "[#########.]"),
        (10, 0, 10, "[##########]"),
        (0, 0, 0, "[          ]"),
    ],
)
def test_the_bar_shows_done_and_failed_in_proportion(done: int, failed: int, total: int, drawn: str) -> None:
    assert bar(done, failed, total, width=10) == drawn


def test_a_progress_line_says_done_failed_and_remaining() -> None:
    line = progress_line({"total": 500, "succeeded": 120, "failed": 3, "running": 10, "pending": 367})
    assert line.endswith("120/500 done, 3 failed, 377 remaining (10 running)")


def test_the_end_of_a_run_sums_the_outcomes_and_names_each_failure() -> None:
    sfn = boto3.client("stepfunctions", region_name="us-east-1")
    run = "arn:aws:states:us-east-1:123456789012:mapRun:wf/Uploads:1"
    child = "arn:aws:states:us-east-1:123456789012:execution:wf/Uploads:c1"
    counts = dict.fromkeys(("pending", "running", "timedOut", "aborted", "resultsWritten"), 0)
    counts |= {"succeeded": 4, "failed": 1, "total": 5, "failuresNotRedrivable": 0, "pendingRedrive": 0}
    with Stubber(sfn) as stub:
        stub.add_response(
            "describe_map_run",
            {
                "mapRunArn": run,
                "executionArn": "arn:aws:states:us-east-1:123456789012:execution:wf:e",
                "status": "SUCCEEDED",
                "startDate": datetime(2026, 11, 22, tzinfo=UTC),
                "maxConcurrency": 10,
                "toleratedFailurePercentage": 25.0,
                "toleratedFailureCount": 0,
                "itemCounts": counts,
                "executionCounts": counts,
            },
        )
        stub.add_response(
            "list_executions",
            {
                "executions": [
                    {
                        "executionArn": child,
                        "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:wf/Uploads",
                        "name": "c1",
                        "status": "FAILED",
                        "startDate": datetime(2026, 11, 22, tzinfo=UTC),
                    }
                ]
            },
            {"mapRunArn": run, "statusFilter": "FAILED", "maxResults": 10},
        )
        stub.add_response(
            "describe_execution",
            {
                "executionArn": child,
                "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:wf/Uploads",
                "status": "FAILED",
                "startDate": datetime(2026, 11, 22, tzinfo=UTC),
                "cause": "uploads/x.jpg: truncated (image data ends early)",
            },
            {"executionArn": child},
        )
        said: list[str] = []
        output = [{"outcomes": {"rendered": 3}}, {"outcomes": {"current": 1}}]
        report = finish(sfn, {"status": "SUCCEEDED", "output": json.dumps(output)}, run, said.append)
    assert report["outcomes"] == {"rendered": 3, "current": 1}
    assert report["failures"] == ["uploads/x.jpg: truncated (image data ends early)"]
    assert said[-1] == "SUCCEEDED: 1 of 5 items failed (within the tolerated share)"


def test_the_newest_inventory_manifest_of_the_images_bucket_is_the_one_read(aws: Any) -> None:
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="inventory")
    for day in ("2026-11-20T01-00Z", "2026-11-21T01-00Z"):
        s3.put_object(Bucket="inventory", Key=f"inv/images/uploads/{day}/manifest.json", Body=b"{}")
    for other in ("other", "myimages"):
        s3.put_object(Bucket="inventory", Key=f"inv/{other}/uploads/2026-11-22T01-00Z/manifest.json", Body=b"{}")
    assert newest_manifest("inventory", "images") == "inv/images/uploads/2026-11-21T01-00Z/manifest.json"
    with pytest.raises(SystemExit, match="no inventory manifest of nothing"):
        newest_manifest("inventory", "nothing")

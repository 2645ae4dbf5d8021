"""make reprocess: bring every stored image's outputs to the current specs (README "Reprocessing").

    python -m tools.reprocess dry-run   # what a run would do and cost: images, CPU, Lambda cost, wall time
    python -m tools.reprocess run       # start the ReprocessWorkflow; follow it: done / failed / remaining
    python -m tools.reprocess wiring    # the reprocess stack's parameters, from the app stack's outputs

Why a command and not one AWS CLI call: a run's progress lives in its Distributed Map run
(DescribeMapRun), not in the execution, and its failures in the failed child executions; the dry
run reads what the workflow would read (the listing and the image log) without asking for
anything, times the job on a few of the stored images here, and prices the run at list prices.
The local stack by default (tools/stack.py); STACK_NAME names another, on AWS too.
"""

import argparse
import contextlib
import json
import os
import random
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from image_pipeline.aws.dynamodb import DynamoImageLog
from image_pipeline.imaging import JOB_SPECS, SPEC_VERSIONS, ImageLimits
from image_pipeline.keys import UPLOADS_PREFIX, image_id_for_key, is_upload_key
from image_pipeline.reprocessing import decide, reprocessed_job
from tools.stack import Stack, StackName

# The app stack's outputs (and parameters) that reprocess/template.yaml takes, by its parameter.
WIRED_OUTPUTS = (
    "ImagesBucketName",
    "ImagesTableName",
    "AppBusName",
    "RenditionQueueArn",
    "RenditionQueueUrl",
    "SharedLayerArn",
    "AlarmTopicArn",
)
WIRED_PARAMETERS = ("StallTimeoutSeconds", "RetentionDays", "Architecture", "LogRetentionInDays")

# List prices, us-east-1, in USD (Lambda per GB-second by CPU, per request; the rest per unit).
LAMBDA_GB_SECOND = {"arm64": 0.0000133334, "x86_64": 0.0000166667}
LAMBDA_REQUEST = 0.20 / 1e6
EXPRESS_REQUEST, EXPRESS_GB_SECOND = 1.00 / 1e6, 0.00001667  # billed in 64 MB steps
SQS_REQUEST = 0.40 / 1e6  # send, receive, delete: three per image
EVENTS_PUT = 1.00 / 1e6  # ReprocessRequested and RenditionsCreated (each forwarded to a hub once more)
DYNAMODB_WRITE = 1.25 / 1e6  # on demand: the request and the answer, recorded; the idempotency record
S3_GET, S3_PUT = 0.0004 / 1000, 0.005 / 1000
LAMBDA_VCPU_PER_MB = 1 / 1769  # Lambda gives one vCPU per 1,769 MB
CHECK_SECONDS = 2  # the workflow's Wait between checks
MEASURED_IMAGES = 3  # stored images the dry run times the job on


@dataclass(frozen=True)
class Stacks:
    app: Stack
    reprocess: Stack

    @classmethod
    def resolve(cls) -> "Stacks":
        """The app stack (tools/stack.py's rules) and its reprocess stack, ``<app>-reprocess``."""
        endpoint = os.environ.get("AWS_ENDPOINT_URL")  # the local engine's, or None on AWS
        name = StackName.resolve().name
        return cls(Stack(name, endpoint_url=endpoint), Stack(f"{name}-reprocess", endpoint_url=endpoint))


def deployed_spec(stacks: Stacks) -> str:
    """The renditions' spec version the deployed code asks for (this checkout's may differ)."""
    answer = boto3.client("lambda").invoke(
        FunctionName=stacks.reprocess.outputs["ReprocessItemFunctionName"], Payload=json.dumps({"action": "specs"})
    )
    return str(json.loads(answer["Payload"].read())["specVersion"])


def wiring(app: Stack) -> str:
    """The reprocess stack's parameter overrides (Key=Value ...), from the app stack."""
    values = {key: app.outputs[key] for key in WIRED_OUTPUTS}
    values |= {key: app.parameters[key] for key in WIRED_PARAMETERS if key in app.parameters}
    return " ".join(f"{key}={value}" for key, value in values.items())


# ---------------------------------------------------------------- dry run
def stored_keys(bucket: str, prefix: str = UPLOADS_PREFIX) -> Iterator[str]:
    """Every object under ``prefix`` (uploads/ or part of it), as the workflow's ItemReader lists them."""
    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    for page in pages:
        for listed in page.get("Contents", []):
            yield str(listed["Key"])


def assess(keys: Sequence[str], images: DynamoImageLog, stall_timeout: timedelta, spec: str) -> Counter[str]:
    """What a run would do with each key (the item function's own decision, nothing asked)."""
    now = datetime.now(UTC)

    def one(key: str) -> str:
        events = images.events(image_id_for_key(key)) if is_upload_key(key) else []
        decision = decide(key, events, spec_version=spec, stall_timeout=stall_timeout, now=now, run="dry-run")
        return "to render" if decision.send is not None else decision.item.outcome.value

    with ThreadPoolExecutor(max_workers=8) as pool:
        return Counter(pool.map(one, keys))


@dataclass(frozen=True)
class Timing:
    cpu_seconds: float  # per image, this machine
    wall_seconds: float


def time_the_job(bucket: str, keys: Sequence[str]) -> Timing | None:
    """The renditions job's CPU and wall time per image, in-process, on a few stored images."""
    from image_pipeline.imaging import ImageRejected, render  # noqa: PLC0415 - Pillow only when measuring

    s3, specs, cpu, wall, timed = boto3.client("s3"), JOB_SPECS[reprocessed_job().name], 0.0, 0.0, 0
    for key in keys[:MEASURED_IMAGES]:
        data = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        cpu0, wall0 = time.process_time(), time.perf_counter()
        try:
            render(data, specs, ImageLimits())
        except ImageRejected:
            continue
        cpu, wall, timed = cpu + time.process_time() - cpu0, wall + time.perf_counter() - wall0, timed + 1
    return Timing(cpu / timed, wall / timed) if timed else None


@dataclass(frozen=True)
class Estimate:
    images: int
    cpu_seconds: float
    lambda_seconds: float  # RenditionWorker's billed duration, per image
    cost: Mapping[str, float]
    concurrency: int
    wall_seconds: float


def estimate(
    images: int,
    timing: Timing,
    *,
    worker_memory_mb: int,
    architecture: str,
    concurrency: int,
    per_batch: int = 1,
) -> Estimate:
    """CPU, list-price cost and wall time of rendering ``images`` with ``concurrency`` renders at a time."""
    vcpu = worker_memory_mb * LAMBDA_VCPU_PER_MB
    parallel = max(1.0, timing.cpu_seconds / timing.wall_seconds) if timing.wall_seconds else 1.0
    duration = timing.cpu_seconds / min(vcpu, parallel)  # CPU-bound: Lambda's share of a core sets the pace
    child_seconds = duration + CHECK_SECONDS  # asked, rendered, recorded, then seen by a check
    children = images / per_batch
    item_invocations = children * (2 + child_seconds / CHECK_SECONDS)
    cost = {
        "RenditionWorker": images
        * (duration * worker_memory_mb / 1024 * LAMBDA_GB_SECOND[architecture] + LAMBDA_REQUEST),
        "ReprocessItemFunction": item_invocations * (0.1 * 0.25 * LAMBDA_GB_SECOND[architecture] + LAMBDA_REQUEST),
        "Step Functions (Express children)": children * (EXPRESS_REQUEST + child_seconds * 0.0625 * EXPRESS_GB_SECOND),
        "SQS": images * 3 * SQS_REQUEST,
        "EventBridge": images * 2 * 2 * EVENTS_PUT,
        "DynamoDB": images * 3 * DYNAMODB_WRITE,
        "S3": images * (S3_GET + len(JOB_SPECS[reprocessed_job().name]) * S3_PUT),
    }
    return Estimate(
        images=images,
        cpu_seconds=images * timing.cpu_seconds,
        lambda_seconds=duration,
        cost=cost,
        concurrency=concurrency,
        wall_seconds=images * child_seconds / max(1, concurrency),
    )


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    if seconds < 172_800:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def renders_at_once(stacks: Stacks) -> tuple[int, str]:
    """How many renders a run can have going at once, and what bounds it: the map's MaxConcurrency
    (times its batch), RenditionWorker's queue concurrency (ScalingConfig), the account's Lambda."""
    parameters = stacks.reprocess.parameters
    batch = int(parameters.get("ItemsPerBatch", "1")) if parameters.get("LocalEmulator") == "false" else 1
    bounds = {"the map's MaxConcurrency": int(parameters.get("MaxConcurrency", "10")) * batch}
    aws_lambda = boto3.client("lambda")
    worker = stacks.app.physical_id("RenditionWorker")
    for mapping in aws_lambda.list_event_source_mappings(FunctionName=worker)["EventSourceMappings"]:
        if limit := mapping.get("ScalingConfig", {}).get("MaximumConcurrency"):
            bounds["RenditionWorker's ScalingConfig"] = int(limit)
    with contextlib.suppress(KeyError, aws_lambda.exceptions.ClientError):  # the engine may not say
        bounds["the account's Lambda concurrency"] = int(
            aws_lambda.get_account_settings()["AccountLimit"]["ConcurrentExecutions"]
        )
    reason = min(bounds, key=lambda k: bounds[k])
    return bounds[reason], reason


def dry_run(stacks: Stacks, sample: int, prefix: str, out: Callable[[str], None] = print) -> dict[str, Any]:
    outputs, parameters = stacks.app.outputs, stacks.app.parameters
    bucket = outputs["ImagesBucketName"]
    images = DynamoImageLog(outputs["ImagesTableName"])
    stall = timedelta(seconds=int(parameters.get("StallTimeoutSeconds", "300")))
    keys = list(stored_keys(bucket, prefix))
    chosen = keys if len(keys) <= sample else random.sample(keys, sample)
    spec = deployed_spec(stacks)
    counted = assess(chosen, images, stall, spec)
    scale = len(keys) / len(chosen) if chosen else 0.0
    counts = {outcome: round(n * scale) for outcome, n in counted.items()}
    sampled = f" (from a sample of {len(chosen):,})" if len(chosen) < len(keys) else ""
    out(f"{len(keys):,} stored uploads under {prefix}; the deployed renditions' specs are {spec}{sampled}:")
    for outcome, n in sorted(counts.items(), key=lambda kv: -kv[1]):
        out(f"  {n:>10,}  {outcome}")
    report: dict[str, Any] = {"stored": len(keys), "specVersion": spec, "counts": counts}
    to_render = counts.get("to render", 0)
    if not to_render:
        out("nothing to render: every image's outputs are current (or cannot be made)")
        return report
    outdated = [k for k in chosen if is_upload_key(k)]
    timing = time_the_job(bucket, random.sample(outdated, min(len(outdated), MEASURED_IMAGES)))
    if timing is None:
        out("could not time the job on the stored images (none of those tried renders)")
        return report
    concurrency, bound = renders_at_once(stacks)
    worker = boto3.client("lambda").get_function_configuration(FunctionName=stacks.app.physical_id("RenditionWorker"))
    guess = estimate(
        to_render,
        timing,
        worker_memory_mb=int(worker["MemorySize"]),
        architecture=(worker.get("Architectures") or ["x86_64"])[0],
        concurrency=concurrency,
    )
    out(
        f"the job here: {timing.cpu_seconds:.2f} s CPU, {timing.wall_seconds:.2f} s per image"
        f" (mean of {MEASURED_IMAGES} stored images, this machine)"
    )
    if (here := SPEC_VERSIONS[reprocessed_job().name]) != spec:
        out(f"  (timed with this checkout's specs, {here}: deploy them to price what you will run)")
    out(f"CPU: {guess.cpu_seconds:,.0f} CPU-seconds; RenditionWorker ~{guess.lambda_seconds:.2f} s per image")
    total = sum(guess.cost.values())
    out(f"cost at list price: ${total:,.{2 if total >= 10 else 4}f}")
    for part, dollars in guess.cost.items():
        out(f"  ${dollars:>12,.4f}  {part}")
    out(f"wall time: ~{_duration(guess.wall_seconds)} at {concurrency} renders at once ({bound})")
    report |= {"timing": vars(timing), "estimate": {**vars(guess), "cost": dict(guess.cost)}, "bound": bound}
    return report


# ---------------------------------------------------------------- run
def bar(done: int, failed: int, total: int, width: int = 30) -> str:
    if total <= 0:
        return "[" + " " * width + "]"
    ok = int(width * done / total)
    bad = min(width - ok, int(width * failed / total + 0.999)) if failed else 0
    return "[" + "#" * ok + "x" * bad + "." * (width - ok - bad) + "]"


def progress_line(counts: Mapping[str, int]) -> str:
    total, done, failed = counts.get("total", 0), counts.get("succeeded", 0), counts.get("failed", 0)
    left = max(0, total - done - failed)
    return (
        f"{bar(done, failed, total)} {done}/{total} done, {failed} failed, {left} remaining"
        f" ({counts.get('running', 0)} running)"
    )


def map_counts(sfn: Any, map_run: str) -> dict[str, int]:
    """DescribeMapRun's item counts: pending, running, succeeded, failed, total..."""
    counts: Mapping[str, Any] = sfn.describe_map_run(mapRunArn=map_run)["itemCounts"]
    return {name: int(value) for name, value in counts.items()}


def newest_manifest(inventory_bucket: str, images_bucket: str) -> str:
    """The newest S3 Inventory manifest of the images bucket (<prefix>/<bucket>/<config>/<date>/manifest.json)."""
    s3 = boto3.client("s3")
    found = [
        listed
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=inventory_bucket)
        for listed in page.get("Contents", [])
        if listed["Key"].endswith("/manifest.json") and f"/{images_bucket}/" in f"/{listed['Key']}"
    ]
    if not found:
        raise SystemExit(f"no inventory manifest of {images_bucket} in s3://{inventory_bucket}/ yet")
    return str(max(found, key=lambda listed: (listed["LastModified"], listed["Key"]))["Key"])  # dated folders


def run(stacks: Stacks, prefix: str, out: Callable[[str], None] = print, poll: float = 1.0) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions")
    workflow = stacks.reprocess.outputs["ReprocessWorkflowArn"]
    inventory = stacks.reprocess.parameters.get("InventoryBucket", "")
    run_input: dict[str, str] = {"prefix": prefix}
    if inventory and stacks.reprocess.parameters.get("LocalEmulator") == "false":
        run_input["manifestKey"] = newest_manifest(inventory, stacks.app.outputs["ImagesBucketName"])
    name = datetime.now(UTC).strftime("reprocess-%Y%m%dT%H%M%S") + f"-{os.getpid()}"
    execution = sfn.start_execution(stateMachineArn=workflow, name=name, input=json.dumps(run_input))["executionArn"]
    out(f"run {name}: the renditions' outputs to specs {deployed_spec(stacks)}")
    tty, last, printed, said = sys.stdout.isatty(), "", "", 0.0
    map_run = None
    while True:
        described = sfn.describe_execution(executionArn=execution)
        if map_run is None:
            runs = sfn.list_map_runs(executionArn=execution)["mapRuns"]
            map_run = runs[0]["mapRunArn"] if runs else None
        if map_run is not None:
            line = progress_line(map_counts(sfn, map_run))
            if tty:
                sys.stdout.write("\r" + line)
                sys.stdout.flush()
            elif line != printed and time.monotonic() - said >= 5:
                out(line)
                printed, said = line, time.monotonic()
            last = line
        if described["status"] != "RUNNING":
            break
        time.sleep(poll)
    if tty:
        sys.stdout.write("\n")
    elif last != printed:
        out(last)
    return finish(sfn, described, map_run, out)


def finish(sfn: Any, described: Mapping[str, Any], map_run: str | None, out: Callable[[str], None]) -> dict[str, Any]:
    """The run's end: its outcomes and the reasons of the items that failed."""
    counts = map_counts(sfn, map_run) if map_run else {}
    report: dict[str, Any] = {"status": described["status"], "items": counts, "outcomes": {}, "failures": []}
    output = json.loads(described.get("output") or "null")
    if isinstance(output, list):  # the children's outcomes (the local engine; on AWS ResultWriter's files)
        outcomes: Counter[str] = Counter()
        for child in output:
            outcomes.update((child or {}).get("outcomes", {}))
        report["outcomes"] = dict(outcomes)
        out(", ".join(f"{n} {o}" for o, n in sorted(outcomes.items())) or "no items")
    elif isinstance(output, dict) and "ResultWriterDetails" in output:
        details = output["ResultWriterDetails"]
        out(f"outcomes of every item: s3://{details.get('Bucket')}/{details.get('Key')}")
    if map_run and counts.get("failed"):
        failed = sfn.list_executions(mapRunArn=map_run, statusFilter="FAILED", maxResults=10)["executions"]
        for child in failed:
            cause = sfn.describe_execution(executionArn=child["executionArn"]).get("cause") or "(no cause)"
            report["failures"].append(cause)
            out(f"  failed: {cause}")
    tolerated = "within" if described["status"] == "SUCCEEDED" else "beyond"
    failed, total = counts.get("failed", 0), counts.get("total", 0)
    out(f"{described['status']}: {failed} of {total} items failed ({tolerated} the tolerated share)")
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["dry-run", "run", "wiring"])
    parser.add_argument("--sample", type=int, default=20_000, help="dry-run: decide for at most this many uploads")
    parser.add_argument("--json", action="store_true", help="print the report as JSON too")
    parser.add_argument(
        "--prefix", default=UPLOADS_PREFIX, help="only the uploads under this prefix (a canary: uploads/0)"
    )
    args = parser.parse_args()
    if not args.prefix.startswith(UPLOADS_PREFIX):
        parser.error(f"--prefix must start with {UPLOADS_PREFIX}")
    stacks = Stacks.resolve()
    if args.command == "wiring":
        print(wiring(stacks.app))
        return
    report = dry_run(stacks, args.sample, args.prefix) if args.command == "dry-run" else run(stacks, args.prefix)
    if args.json:
        print(json.dumps(report, default=str))
    if report.get("status") not in (None, "SUCCEEDED"):
        sys.exit(1)


if __name__ == "__main__":
    main()

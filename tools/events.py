"""`make events`: the sample events of events/ rewritten for one deployed stack, for the SAM CLI.

    python -m tools.events            # the local stack (see tools/stack.py); writes out/events/<stack>/

Writes, in a git-ignored folder:
- a copy of every events/*.json made true for the stack (as `make invoke` does: its bucket and the
  stored object's ETag, size and sequencer, seeding the object with a sample image first; its
  queue, account and region), so invoking it is a redelivery the stack answers idempotently, for
  `sam remote invoke <Function> --stack-name <stack> --event-file out/events/<stack>/<event>.json`;
- env.json: every function's environment as deployed (bucket, table, bus names...), for
  `sam local invoke <Function> -e ... --env-vars out/events/<stack>/env.json` (needs Docker).
"""

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import boto3

from tools.engine import ROOT
from tools.invoke import Redelivery
from tools.stack import Stack, local_stack

EVENTS = ROOT / "events"
OUT = ROOT / "out" / "events"
# What the bundled events name, and the output (or lookup) of the deployed stack that replaces it.
SAMPLE_ACCOUNT = "123456789012"
SAMPLE_REGION = "us-east-1"
SAMPLE_QUEUE_ARN = f"arn:aws:sqs:{SAMPLE_REGION}:{SAMPLE_ACCOUNT}:image-pipeline-RenditionQueue"


def stack_values(stack: Stack) -> dict[str, str]:
    """Sample value -> the stack's value, applied to every string of every event."""
    stack_arn = str(stack.description["StackId"])  # arn:aws:cloudformation:<region>:<account>:stack/...
    region, account = stack_arn.split(":")[3:5]
    queue_arn = boto3.client("sqs").get_queue_attributes(
        QueueUrl=stack.outputs["RenditionQueueUrl"], AttributeNames=["QueueArn"]
    )["Attributes"]["QueueArn"]
    return {
        SAMPLE_QUEUE_ARN: queue_arn,
        f":{SAMPLE_REGION}:": f":{region}:",
        SAMPLE_ACCOUNT: account,
    }


def _replace(value: Any, replacements: dict[str, str]) -> Any:
    if isinstance(value, str):
        for old, new in replacements.items():
            value = value.replace(old, new)
        return value
    if isinstance(value, list):
        return [_replace(v, replacements) for v in value]
    if isinstance(value, dict):
        return {k: _replace(v, replacements) for k, v in value.items()}
    return value


def for_stack(event: dict[str, Any], redelivery: Redelivery, replacements: dict[str, str]) -> dict[str, Any]:
    """``event`` made true for the stack (its S3 parts, or the recorded app event), then every
    sample name (queue, account, region) replaced by the stack's."""
    event = redelivery.make_true(event)
    for record in event.get("Records", []):
        if "body" in record:
            record["body"] = json.dumps(_replace(json.loads(record["body"]), replacements))
    return dict(_replace(event, replacements))


def function_environments(stack: Stack) -> dict[str, dict[str, str]]:
    """Each function's environment variables as deployed, by logical id (SAM's --env-vars shape)."""
    resources = boto3.client("cloudformation").describe_stack_resources(StackName=stack.name)["StackResources"]
    lambda_ = boto3.client("lambda")
    environments = {}
    for resource in resources:
        if resource["ResourceType"] != "AWS::Lambda::Function":
            continue
        configuration = lambda_.get_function_configuration(FunctionName=resource["PhysicalResourceId"])
        environments[resource["LogicalResourceId"]] = dict(configuration.get("Environment", {}).get("Variables", {}))
    return environments


def write(stack: Stack, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    redelivery = Redelivery(stack)
    replacements = stack_values(stack)
    written = []
    for source in sorted(EVENTS.glob("*.json")):
        event = for_stack(json.loads(source.read_text()), redelivery, replacements)
        target = out / source.name
        target.write_text(json.dumps(event, indent=2) + "\n")
        written.append(target)
    env = out / "env.json"
    env.write_text(json.dumps(function_environments(stack), indent=2, sort_keys=True) + "\n")
    return [*written, env]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args()
    stack = local_stack()
    out = OUT / stack.name
    written = write(stack, out)
    print(f"{len(written)} files in {out.relative_to(ROOT)}/ for stack {stack.name}:", file=sys.stderr)
    print(
        f"  sam remote invoke ThumbnailFunction --stack-name {stack.name}"
        f" --event-file {out.relative_to(ROOT)}/s3put.json",
        file=sys.stderr,
    )


if __name__ == "__main__":
    main()

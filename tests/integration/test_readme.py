"""Every command block of the README runs against the local stack, in order, as a reader would
type it: a README example that fails is a failing test, not a support ticket.

Each command is either run here (with the local stack's values substituted where the README names
an AWS stack) or listed in NOT_RUN_HERE with where it is exercised instead; a new command in the
README that is neither fails the test."""

import json
import os
import re
import shlex
import subprocess
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.integration.conftest import STALL_TIMEOUT_SECONDS
from tests.template import ROOT
from tools.engine import LocalEngine
from tools.stack import Stack

README = ROOT / "README.md"
# command (its first words) -> why this test does not run it, and where it is exercised
NOT_RUN_HERE = {
    "make test": "this suite is `make test`",
    "make test-e2e": "`make test` runs the end-to-end suite (tests/e2e) against the local stack",
    "make deploy": "deploys to AWS with your credentials (tests/integration/test_sam_cli.py drives a guided deploy)",
    "make lint": ".ci/run runs it before `make test`",
    "make bench": "a benchmark of minutes; tests/unit/imaging/test_bench_smoke.py runs its cases",
    "make load": "restarts the engine for a cold burst of minutes (tests/integration/test_load.py bursts this one)",
    "make format": "rewrites files",
    "make clean": "deletes the venvs this suite runs in",
    "make pipeline-build": "an arm64 build of a minute: tests/integration/test_pipeline_build.py runs it",
    "make pipeline-package pipeline-deploy": "`make deploy-local` (run below) runs these two targets",
    "sam pipeline bootstrap": "one-time set-up in your AWS accounts",
    "sam build -t consumers/aggregates/template.yaml": "deploys to your AWS accounts (wiring: test_hub_wiring.py)",
    "sam build -t consumers/history/template.yaml": "deploys to your AWS accounts (wiring: test_hub_wiring.py)",
    "sam build -t hub/template.yaml": "deploys to your AWS accounts (wiring: test_hub_wiring.py)",
    "sam build -t reprocess/template.yaml": "deploys to your AWS account (`make deploy-local` deploys it here)",
    "sam deploy --template-file .aws-sam/reprocess/template.yaml": "the same: `make deploy-local` deploys it here",
    "make reprocess": "tests/integration/test_reprocess.py runs it (its tools.reprocess) after a spec change",
    "make bench-reprocess": "a benchmark of many minutes on a fresh engine",
    "PUSH_PARAMS=": "deploys the push to your AWS account (`make deploy-local` deploys it here: test_push.py)",
    "sam build -t push/template.yaml": "the same: `make deploy-local` deploys it here",
    "gh api": "one-time set-up of your GitHub repository",
    "aws iam put-role-policy": "one-time set-up in your AWS account",
    "sam deploy --guided": "interactive: tests/integration/test_sam_cli.py answers its prompts through a pty",
    "sam sync": "re-syncs the layers too (minutes); proven by hand, see the README",
    "sam local invoke": "needs Docker",
}
# what the README names that is the local stack here
SUBSTITUTIONS = {"--stack-name image-pipeline ": "--stack-name {stack} ", "STACK_NAME=my-stack ": "STACK_NAME={stack} "}


def commands() -> list[str]:
    """The README's shell commands, in order: continued lines (a trailing backslash, or a quote
    still open) joined, comment lines dropped."""
    found = []
    for block in re.findall(r"```sh\n(.*?)```", README.read_text(), re.DOTALL):
        logical = ""
        for line in block.splitlines():
            logical += (line[:-1] + " ") if line.endswith("\\") else (line + "\n")
            if line.endswith("\\") or _open_quote(logical):
                continue
            if logical.strip() and not logical.lstrip().startswith("#"):
                found.append(logical.strip())
            logical = ""
    return found


def _open_quote(text: str) -> bool:
    try:
        shlex.split(text, comments=True)
    except ValueError:
        return True
    return False


def _skipped(command: str) -> bool:
    return any(re.match(rf"{re.escape(prefix)}(\s|$)", command) for prefix in NOT_RUN_HERE)


def _substituted(command: str, stack: Stack) -> str:
    for old, new in SUBSTITUTIONS.items():
        command = command.replace(old, new.format(stack=stack.name))
    return command


@pytest.fixture(scope="module")
def transcript(engine: LocalEngine, stack: Stack, web_origin: str) -> dict[str, str]:
    """Run every command in one shell session; what each one printed."""
    runnable = [c for c in commands() if not _skipped(c)]
    script = ["set -euo pipefail"]
    for index, command in enumerate(runnable):
        script += [f"printf '\\n@@@ {index}\\n'", _substituted(command, stack)]
    env = {
        **os.environ,
        **engine.client_env(),
        # the AWS CLI and the SAM CLI make installs
        "PATH": f"{ROOT / '.venv' / 'bin'}:{ROOT / '.venv-sam' / 'bin'}:{os.environ['PATH']}",
        "PORT": str(engine.port),
        # the same parameters the test stack was deployed with: `make run` changes nothing
        "STALL_TIMEOUT_SECONDS": str(STALL_TIMEOUT_SECONDS),
        "ALLOWED_ORIGIN": web_origin,
    }
    done = subprocess.run(
        ["bash", "-c", "\n".join(script)],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,  # a command waiting for input fails instead of hanging
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    outputs = re.split(r"^@@@ (\d+)\n", done.stdout, flags=re.MULTILINE)[1:]
    return {runnable[int(index)]: text for index, text in zip(outputs[::2], outputs[1::2], strict=True)}


def _json(text: str) -> Any:
    return json.loads(text.strip().splitlines()[-1])


def test_every_readme_command_is_run_here_or_says_where_it_is_exercised(transcript: dict[str, str]) -> None:
    assert set(transcript) | {c for c in commands() if _skipped(c)} == set(commands())
    assert {c for c in commands() if _skipped(c)}, "the two commands are listed"


def test_the_readme_api_walkthrough_answers_as_documented(transcript: dict[str, str], stack: Stack) -> None:
    by_start = {command.split(" -H")[0]: output for command, output in transcript.items()}
    image = _json(by_start['curl -s "$API_URL/images/$IMAGE_ID"'])
    assert image["status"] == "COMPLETE"
    assert image["filename"] == "holiday.jpg"
    assert image["outputs"]["thumbnail"]["url"]
    trace = _json(by_start['curl -s "$API_URL/images/$IMAGE_ID/trace"'])
    # (the tracker's own verdicts are in the trace too, PENDING possibly before the upload arrives)
    announced = [e["type"] for e in trace["events"] if e["type"] != "ImageStatusChanged"]
    assert announced[:2] == ["UploadRequested", "ImageUploaded"]
    newest = _json(by_start['curl -s "$API_URL/images?limit=5"'])
    assert image["imageId"] in [i["imageId"] for i in newest["images"]]
    # the edit's statusUrl, resolved against the URL it was posted to (RFC 3986), is the edit's route
    edit = _json(by_start['curl -s "$EDIT_URL"'])
    assert (edit["imageId"], edit["status"], edit["format"]) == (image["imageId"], "COMPLETE", "webp")
    assert (edit["output"]["width"], edit["output"]["height"]) == (400, 400)
    assert edit["output"]["url"]
    copied = _json(by_start['curl -s -G "$API_URL/images" --data-urlencode "key=uploads/my rocket.webp"'])
    (rocket,) = copied["images"]
    assert (rocket["filename"], rocket["origin"], rocket["status"]) == ("my rocket.webp", "s3", "COMPLETE")


def test_the_readme_commands_for_the_key_the_engine_and_the_run_work(transcript: dict[str, str], stack: Stack) -> None:
    key = next(output for command, output in transcript.items() if command.startswith("aws apigateway get-api-key"))
    assert key.strip() == stack.api_key
    run = next(output for command, output in transcript.items() if command.startswith("make run"))
    assert "Every image was processed or rejected with a reason: 4 COMPLETE" in run
    invoked = next(output for command, output in transcript.items() if command.startswith("make invoke"))
    assert '"type": "ThumbnailCreated"' in invoked


def _output(transcript: dict[str, str], start: str) -> str:
    return next(output for command, output in transcript.items() if command.startswith(start))


def _answer(transcript: dict[str, str], command: str) -> Any:
    """The function's answer `make invoke` printed last (sam remote invoke's stdout)."""
    return _json(_output(transcript, command + " "))


def test_the_readme_invokes_answer_each_generated_event_as_it_says(transcript: dict[str, str], stack: Stack) -> None:
    (ignored,) = _answer(transcript, "make invoke FN=ThumbnailFunction EVENT=out/s3-put.json")["ignored"]
    assert ignored["reason"] == (
        f"s3://example-bucket/test/key is not in this stack's images bucket ({stack.outputs['ImagesBucketName']})"
    )
    assert _answer(transcript, "make invoke FN=RenditionWorker EVENT=out/sqs.json")["batchItemFailures"]
    refused = _answer(transcript, "make invoke FN=ThumbnailFunction EVENT=out/sqs.json")
    assert refused["unsupported"].endswith("it got an SQS batch of 1 message(s)")
    api = _answer(transcript, "make invoke FN=ApiFunction EVENT=out/api.json")
    assert (api["statusCode"], json.loads(api["body"])["message"]) == (404, "no route POST /path/to/resource")
    sweep = _answer(transcript, "make invoke FN=StallSweeperFunction EVENT=out/tick.json")
    assert set(sweep) == {"stalled", "expired", "postponed"}


def test_the_readme_reads_the_days_aggregates_through_the_local_graphql_api(transcript: dict[str, str]) -> None:
    today = datetime.now(UTC).date().isoformat()
    stats = _output(transcript, "make stats ")
    assert stats.startswith(
        f"Aggregates for {today}, read through the aggregates consumer's GraphQL API (http://127.0.0.1:"
    )
    assert "/v1/apis/" in stats
    assert "COMPLETE: " in stats
    assert not re.search(r"[{}]|True|False", stats), stats
    daily = _json(_output(transcript, 'curl -s "$STATS_API_URL"'))["data"]["dailyStats"]
    assert daily["date"] == today
    assert json.loads(daily["counters"])["images.COMPLETE"] >= 4

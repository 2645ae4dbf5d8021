"""The SAM CLI journey on the local engine, as the README tells a user to take it: a guided deploy
answered at the terminal, then the Makefile's and the SAM CLI's commands against that stack; and
a build for another CPU than the engine's, refused before anything is deployed."""

import filecmp
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pexpect
import pytest
from botocore.exceptions import ClientError

from tests.conftest import _free_port
from tests.template import ROOT
from tools.client import PipelineClient
from tools.engine import LocalEngine
from tools.stack import Stack, machine_architecture

SAM = str(ROOT / ".venv-sam" / "bin" / "sam")
GUIDED_STACK = "guided-pipeline"
# Every prompt of `sam deploy --guided` ends with "[<default>]: "; these are the answers the
# README gives that differ from the default (Enter everywhere else).
ANSI = re.compile(r"\x1b\[[0-9;]*m")
ANSWERS = {"Stack Name": GUIDED_STACK, "Parameter Architecture": machine_architecture()}


@pytest.fixture(scope="module")
def own_engine() -> Iterator[LocalEngine]:
    engine = LocalEngine(port=_free_port())
    engine.up()
    yield engine
    engine.down()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, stack: Stack, built: Path) -> Path:
    """A fresh clone's view for SAM: samconfig.toml and the local build (made by `make deploy-local`)."""
    project = tmp_path_factory.mktemp("project")
    shutil.copy(ROOT / "samconfig.toml", project / "samconfig.toml")
    build = project / ".aws-sam" / "local"
    build.mkdir(parents=True)
    for entry in built.iterdir():
        if entry.name != "samconfig.toml":
            (build / entry.name).symlink_to(entry)
    # the built template still points at the state machine's definition in the sources
    (project / "src").symlink_to(ROOT / "src")
    return project


def guided_deploy(project: Path, engine: LocalEngine) -> tuple[int | None, str, dict[str, str]]:
    """`sam deploy --guided --config-env local` at a terminal: exit code, output, {prompt: default}."""
    env = {**os.environ, **engine.client_env(), "SAM_CLI_TELEMETRY": "0"}
    child = pexpect.spawn(
        SAM,
        ["deploy", "--guided", "--config-env", "local"],
        cwd=project,
        env=env,
        encoding="utf-8",
        timeout=600,
        dimensions=(50, 200),
    )
    output: list[str] = []
    prompts: dict[str, str] = {}
    while child.expect([r"\r\n([^\r\n]*?) ?\[([^\[\]\r\n]*)\]: ", pexpect.EOF]) == 0:
        match = child.match
        assert isinstance(match, re.Match)
        output.append(f"{child.before}{match.group(0)}")
        asked = ANSI.sub("", match.group(1)).strip()
        prompts[asked] = match.group(2)
        child.sendline(next((a for question, a in ANSWERS.items() if question == asked), ""))
    output.append(str(child.before))
    child.close()
    return child.exitstatus, "".join(output), prompts


def make(target: str, engine: LocalEngine, project: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PORT": str(engine.port), "SAM_CONFIG_FILE": str(project / "samconfig.toml")}
    env.pop("STACK_NAME", None)
    arguments = [f"{name}={value}" for name, value in variables.items()]
    return subprocess.run(
        ["make", "-s", target, *arguments], cwd=ROOT, env=env, capture_output=True, text=True, check=False
    )


def sam(engine: LocalEngine, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **engine.client_env(), "SAM_CLI_TELEMETRY": "0"}
    return subprocess.run([SAM, *arguments], cwd=ROOT, env=env, capture_output=True, text=True, check=False)


@pytest.mark.engine
@pytest.mark.slow
def test_a_guided_deploy_with_the_readme_answers_gives_a_stack_every_command_works_with(
    own_engine: LocalEngine, project: Path
) -> None:
    # Given a guided deploy that keeps every default but the stack name and the architecture
    status, output, prompts = guided_deploy(project, own_engine)
    assert status == 0, output[-4000:]
    assert f"Successfully created/updated stack - {GUIDED_STACK}" in output
    # (samconfig's `local` overrides are the prompts' defaults; SAM's own questions come after)
    assert prompts["Parameter LocalEmulator"] == "true", prompts
    assert prompts["SAM configuration environment"] == "local", prompts
    # Then samconfig.toml (and so its AWS `default` environment) is untouched: SAM saved the
    # answers beside the deployed template
    assert filecmp.cmp(project / "samconfig.toml", ROOT / "samconfig.toml", shallow=False)
    saved = (project / ".aws-sam" / "local" / "samconfig.toml").read_text()
    assert f'stack_name = "{GUIDED_STACK}"' in saved
    assert "[default" not in saved

    # When make local-env looks for the local stack, it finds that one and says where it looked
    local_env = make("local-env", own_engine, project)
    assert local_env.returncode == 0, local_env.stderr
    assert f"export STACK_NAME={GUIDED_STACK}" in local_env.stdout
    assert ".aws-sam/local/samconfig.toml [local.deploy.parameters]" in local_env.stderr
    assert f"local API: {own_engine.url}/_aws/execute-api/" in local_env.stderr
    assert "warning" not in local_env.stderr
    exports = dict(
        line.removeprefix("export ").split("=", 1)
        for line in local_env.stdout.splitlines()
        if line.startswith("export")
    )
    created = PipelineClient(exports["API_URL"], exports["API_KEY"]).create_image("guided.jpg", "image/jpeg")
    assert created["imageId"]

    # And make invoke, make events + sam remote invoke, and sam logs all work with it, once the
    # upload the sample events name is there (the README puts it there with the AWS CLI)
    s3 = boto3.client("s3", endpoint_url=own_engine.url, region_name="us-east-1")
    s3.put_object(
        Bucket=exports["IMAGES_BUCKET"],
        Key="uploads/3f9a2c1e5b7d4e8f9a0b1c2d3e4f5a6b.jpg",
        Body=(ROOT / "events" / "images" / "coffee-landscape.jpg").read_bytes(),
        ContentType="image/jpeg",
    )
    invoked = make("invoke", own_engine, project, FN="ThumbnailFunction", EVENT="events/s3put.json")
    assert invoked.returncode == 0, invoked.stdout[-2000:] + invoked.stderr[-2000:]
    assert "ThumbnailCreated" in invoked.stdout
    assert f"stack {GUIDED_STACK}" in invoked.stderr

    events = make("events", own_engine, project)
    assert events.returncode == 0, events.stderr
    event_file = ROOT / "out" / "events" / GUIDED_STACK / "object-created.json"
    assert (event_file.parent / "env.json").is_file()
    remote = sam(own_engine, "remote", "invoke", "AnalyzeFunction", "--stack-name", GUIDED_STACK,
                 "--event-file", str(event_file))  # fmt: skip
    assert remote.returncode == 0, remote.stdout[-2000:] + remote.stderr[-2000:]
    assert "ImageAnalyzed" in remote.stdout

    logs = sam(own_engine, "logs", "--stack-name", GUIDED_STACK, "-n", "ThumbnailFunction")
    assert logs.returncode == 0, logs.stderr[-2000:]
    assert "START RequestId" in logs.stdout


@pytest.mark.engine
@pytest.mark.slow
def test_a_build_for_another_cpu_than_the_engines_is_refused_before_deploy(engine: LocalEngine, tmp_path: Path) -> None:
    here = machine_architecture()
    other = {"x86_64": "arm64", "arm64": "x86_64"}[here]
    # When a local deploy is asked to build for the other CPU
    env = {**os.environ, "PORT": str(engine.port)}
    deployed = subprocess.run(
        ["make", "-s", "deploy-local", f"ARCH={other}", f"LOCAL_BUILD_DIR={tmp_path / 'build'}",
         "STACK_NAME=refused-build"],
        cwd=ROOT, env=env, capture_output=True, text=True, check=False,
    )  # fmt: skip
    # Then it is refused, in one sentence naming the fix, and nothing was deployed
    assert deployed.returncode != 0, deployed.stdout[-2000:]
    refusal = [line for line in deployed.stderr.splitlines() if line.startswith("refusing to deploy")]
    assert len(refusal) == 1, deployed.stderr[-3000:]
    assert f"was built for {other}" in refusal[0]
    assert f"the local engine runs {here}: rebuild it for the engine with `make build-local`" in refusal[0]
    cloudformation = boto3.client("cloudformation", endpoint_url=engine.url, region_name="us-east-1")
    with pytest.raises(ClientError, match="does not exist"):
        cloudformation.describe_stacks(StackName="refused-build")
    print(refusal[0], file=sys.stderr)

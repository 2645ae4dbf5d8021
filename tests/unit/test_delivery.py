"""The delivery pipeline's promises, read from .github/workflows/pipeline.yml: least privilege,
OIDC only on the deploy jobs, pinned actions, one build promoted unchanged, deploys never
cancelled half way, and steps that are the README's commands (which `make deploy-local` runs
against the local engine in every `make test`)."""

import re
from functools import cache
from typing import Any

import pytest
from cfnlint.decode import cfn_yaml

from tests import template
from tests.template import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
DEPLOY_JOBS = ("staging", "production")
PINNED = re.compile(r"^[\w.-]+/[\w.-]+(/[\w./-]+)?@[0-9a-f]{40}$")


@cache
def workflow(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = cfn_yaml.loads((WORKFLOWS / name).read_text())
    return loaded


def pipeline_jobs() -> dict[str, dict[str, Any]]:
    jobs: dict[str, dict[str, Any]] = workflow("pipeline.yml")["jobs"]
    return jobs


def steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps", []))


def test_nothing_is_granted_by_default_and_only_deploy_jobs_may_ask_for_an_oidc_token() -> None:
    for name in ("pipeline.yml", "ci.yml"):
        assert workflow(name)["permissions"] == {}
    for name, job in pipeline_jobs().items():
        token = job["permissions"].get("id-token")
        assert token == ("write" if name in DEPLOY_JOBS else None), name
        assert set(job["permissions"].values()) <= {"read", "write"}
        assert "contents" not in job["permissions"] or job["permissions"]["contents"] == "read"


@pytest.mark.parametrize("name", ["pipeline.yml", "ci.yml"])
def test_every_action_is_pinned_by_commit_and_no_checkout_keeps_credentials(name: str) -> None:
    for job in workflow(name)["jobs"].values():
        for step in steps(job):
            if "uses" not in step:
                continue
            assert PINNED.match(step["uses"]), step["uses"]
            if step["uses"].startswith("actions/checkout@"):
                assert step["with"]["persist-credentials"] is False


def test_aws_access_is_oidc_only_through_the_official_action() -> None:
    text = (WORKFLOWS / "pipeline.yml").read_text()
    assert "aws-access-key-id" not in text
    assert "AWS_SECRET_ACCESS_KEY" not in text
    for name in DEPLOY_JOBS:
        (login,) = [s for s in steps(pipeline_jobs()[name]) if "configure-aws-credentials" in s.get("uses", "")]
        assert set(login["with"]) == {"role-to-assume", "aws-region", "role-session-name"}


def test_one_build_is_promoted_from_staging_to_production_behind_environments() -> None:
    jobs = pipeline_jobs()
    assert jobs["build"]["needs"] == "checks"
    assert jobs["checks"]["uses"] == "./.github/workflows/ci.yml"
    assert jobs["staging"]["needs"] == "build"
    assert jobs["production"]["needs"] == "staging"
    (uploaded,) = [s for s in steps(jobs["build"]) if "upload-artifact" in s.get("uses", "")]
    for name in DEPLOY_JOBS:
        job = jobs[name]
        assert job["environment"] == name
        assert job["concurrency"] == {"group": f"deploy-{name}", "cancel-in-progress": False}
        (downloaded,) = [s for s in steps(job) if "download-artifact" in s.get("uses", "")]
        assert downloaded["with"] == {"name": uploaded["with"]["name"], "path": uploaded["with"]["path"]}
        assert not any("pipeline-build" in s.get("run", "") for s in steps(job))  # never rebuilt


def test_the_build_targets_an_architecture_the_template_accepts() -> None:
    architecture = workflow("pipeline.yml")["env"]["ARCHITECTURE"]
    assert architecture in template.load()["Parameters"]["Architecture"]["AllowedValues"]
    makefile = (ROOT / "Makefile").read_text()
    assert "--parameter-overrides Architecture=$(ARCHITECTURE)" in makefile  # built for it, deployed with it


def test_the_staging_job_runs_the_end_to_end_suite_against_its_stack() -> None:
    (e2e,) = [s for s in steps(pipeline_jobs()["staging"]) if s.get("run") == "make test-e2e"]
    assert e2e["env"]["AWS_SAM_STACK_NAME"] == "${{ vars.STACK_NAME }}"


def _readme_block(heading: str) -> str:
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index(heading) :]
    return section[section.index("```sh") : section.index("```", section.index("```sh") + 5)]


def test_the_workflow_runs_the_readme_commands_and_they_are_make_targets() -> None:
    documented = _readme_block("## Delivery pipeline")
    makefile = (ROOT / "Makefile").read_text()
    commands = {s["run"] for job in pipeline_jobs().values() for s in steps(job) if "run" in s}
    assert commands == {"make pipeline-build", "make pipeline-package pipeline-deploy", "make test-e2e"}
    for command in commands:
        assert command in documented, command
        for target in command.split()[1:]:
            assert re.search(rf"^{target}:", makefile, re.MULTILINE), target
    # the local deployment every integration test starts from runs the same two steps
    assert "$(MAKE) pipeline-package pipeline-deploy" in makefile


def test_dependabot_keeps_requirements_and_actions_current() -> None:
    config = cfn_yaml.loads((ROOT / ".github" / "dependabot.yml").read_text())
    ecosystems = {update["package-ecosystem"]: update for update in config["updates"]}
    assert set(ecosystems) == {"pip", "github-actions"}
    # Dependabot reads requirements*.txt in a directory and the .txt files of its requirements/ folder
    wanted = {p.parent for p in (ROOT / "layers").glob("*/requirements.txt")} | {ROOT / "tools"}
    assert (ROOT / "tools" / "requirements" / "dev.txt").exists()
    assert {ROOT / d.split("#")[0].strip().lstrip("/") for d in ecosystems["pip"]["directories"]} == wanted

"""How long the API may take to answer, where it runs: on AWS within API Gateway's 29 s integration
limit (the gateway cuts the request there); on the local engine, which cuts nothing at 29 s and runs
every worker on this machine's cores, long enough that a starved cold start answers late instead of
with a 502. And a change of that (or any) setting reaches the version the API's alias serves."""

import json
import os
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests import template
from tests.template import ROOT

SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"

API_GATEWAY_INTEGRATION_LIMIT_SECONDS = 29


def _timeout(on_aws: bool) -> Any:
    timeout = template.function_properties("ApiFunction")["Timeout"]
    if isinstance(timeout, dict):
        condition, when_true, when_false = timeout["Fn::If"]
        assert condition == "OnAws"
        return when_true if on_aws else when_false
    return timeout


def test_on_aws_the_api_function_ends_before_api_gateway_gives_up_on_it() -> None:
    assert 0 < _timeout(on_aws=True) <= API_GATEWAY_INTEGRATION_LIMIT_SECONDS


def test_on_the_local_engine_a_slow_cold_start_still_answers() -> None:
    assert _timeout(on_aws=False) > API_GATEWAY_INTEGRATION_LIMIT_SECONDS


def _api_version(template_text: str, folder: Path) -> str:
    """The logical id of the Lambda version ApiFunction's alias serves, once SAM expands the template."""
    path = folder / "template.yaml"
    path.write_text(template_text)
    expanded = subprocess.run(
        [str(SAM_PYTHON), "-m", "tests.expand_template", str(path)],
        cwd=ROOT,
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        check=True,
    )
    resources = json.loads(expanded.stdout)["Resources"]
    (alias,) = [r for r in resources.values() if r["Type"] == "AWS::Lambda::Alias"]
    return str(alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0])


def test_a_configuration_change_reaches_the_version_the_api_serves(tmp_path: Path) -> None:
    if not SAM_PYTHON.exists():
        pytest.skip("the SAM CLI venv is not built (make test builds it)")
    # Given the template, and the same template with only ApiFunction's timeout changed
    text = (ROOT / "template.yaml").read_text()
    timeout = re.search(r"^      Timeout: .*$", text.split("  ApiFunction:", 1)[1], re.MULTILINE)
    assert timeout is not None
    changed = text.replace(timeout.group(0), "      Timeout: 7", 1)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    # Then the alias the API calls points at a new version (a version freezes its configuration)
    assert _api_version(text, tmp_path / "a") != _api_version(changed, tmp_path / "b")

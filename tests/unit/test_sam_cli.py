"""The SAM CLI journey: what `sam build`, `sam deploy --guided`, `sam sync` and the README make of
template.yaml and samconfig.toml, and how the tools find the local stack and check a local build."""

import json
import os
import re
import subprocess
import sys
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests import template
from tests.template import ROOT
from tools.build import check, drop_unused, finish_layers, prune, wheel_architectures
from tools.stack import Stack, StackName, machine_architecture

SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"


@cache
def expanded_template() -> dict[str, Any]:
    """template.yaml after the SAM transform (run by the translator in the SAM CLI's venv)."""
    expanded = subprocess.run(
        [str(SAM_PYTHON), "-m", "tests.expand_template", "template.yaml"],
        cwd=ROOT,
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        check=False,
    )
    assert expanded.returncode == 0, expanded.stderr[-3000:]
    return dict(json.loads(expanded.stdout))


def samconfig() -> dict[str, Any]:
    return tomllib.loads((ROOT / "samconfig.toml").read_text())


# ---------------------------------------------------------------- one API stage
def test_the_deployed_api_has_exactly_one_stage_the_one_with_throttling_and_access_logs() -> None:
    resources = expanded_template()["Resources"].values()
    stages = [r["Properties"] for r in resources if r["Type"] == "AWS::ApiGateway::Stage"]
    deployments = [r["Properties"] for r in resources if r["Type"] == "AWS::ApiGateway::Deployment"]
    # Then one stage, named by the parameter, and no deployment creates SAM's extra "Stage" stage
    assert len(stages) == 1, stages
    (stage,) = stages
    assert stage["StageName"] == {"Ref": "ApiStageName"}
    assert all("StageName" not in d for d in deployments), deployments
    assert stage["AccessLogSetting"]["DestinationArn"]
    assert all(s["ThrottlingRateLimit"] > 0 for s in stage["MethodSettings"])


# ---------------------------------------------------------------- parameters and the README
def readme_parameter_table() -> dict[str, str]:
    """Parameter -> default, from the README's parameter table (rows `| `Name` | `default` | ...`)."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Deploying to AWS", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| `(\w+)` \| `([^`]*)` \|", section, flags=re.MULTILINE)
    return dict(rows)


def test_the_readme_parameter_table_lists_every_template_parameter_with_its_default() -> None:
    parameters = template.load()["Parameters"]
    table = readme_parameter_table()
    assert set(table) == set(parameters), "README parameter table and template.yaml's Parameters differ"
    for name, parameter in parameters.items():
        assert table[name] == str(parameter["Default"]), name


def test_every_parameter_has_a_description_and_a_default() -> None:
    # SAM's guided prompt shows only `Parameter <Name> [<default>]`: a default for every one, and
    # the description for the console and the README.
    for name, parameter in template.load()["Parameters"].items():
        assert "Default" in parameter, name
        assert parameter.get("Description", "").strip(), name


# ---------------------------------------------------------------- samconfig.toml
def test_the_default_environment_is_aws_and_local_settings_never_reach_it() -> None:
    default = samconfig()["default"]
    text = json.dumps(default)
    assert "LocalEmulator" not in text
    assert "Architecture" not in text  # AWS keeps the template's default (arm64) unless asked
    assert default["deploy"]["parameters"]["confirm_changeset"] is True
    assert "template_file" not in default["deploy"]["parameters"]  # sam build's output, as SAM expects
    assert default["sync"]["parameters"]["watch"] is False


def test_the_local_environment_shares_its_overrides_and_builds_apart_from_aws() -> None:
    local = samconfig()["local"]
    assert local["global"]["parameters"]["parameter_overrides"] == "LocalEmulator=true"
    assert "parameter_overrides" not in local["build"]["parameters"]
    assert "parameter_overrides" not in local["deploy"]["parameters"]
    build_dir = local["build"]["parameters"]["build_dir"]
    assert build_dir != ".aws-sam/build"
    assert local["deploy"]["parameters"]["template_file"] == f"{build_dir}/template.yaml"
    assert local["sync"]["parameters"] == {"watch": False, "dependency_layer": False}


# ---------------------------------------------------------------- which stack
def write_samconfig(directory: Path, text: str) -> Path:
    path = directory / "samconfig.toml"
    path.write_text(text)
    return path


LOCAL_CONFIG = """version = 0.1
[local.global.parameters]
stack_name = "from-global"
[local.deploy.parameters]
template_file = "build/local/template.yaml"
"""


def test_stack_name_is_stack_name_if_set(tmp_path: Path) -> None:
    config = write_samconfig(tmp_path, LOCAL_CONFIG)
    name = StackName.resolve({"STACK_NAME": "mine", "SAM_CONFIG_FILE": str(config)})
    assert name == StackName("mine", "STACK_NAME")


def test_stack_name_comes_from_the_local_environment_of_samconfig(tmp_path: Path) -> None:
    config = write_samconfig(tmp_path, LOCAL_CONFIG)
    name = StackName.resolve({"SAM_CONFIG_FILE": str(config)})
    assert name.name == "from-global"
    assert name.source.endswith("samconfig.toml [local.global.parameters]")


def test_stack_name_saved_by_a_guided_deploy_beside_the_built_template_wins(tmp_path: Path) -> None:
    # Given `sam deploy --guided --config-env local` saved its answers where SAM saves them
    config = write_samconfig(tmp_path, LOCAL_CONFIG)
    saved = tmp_path / "build" / "local"
    saved.mkdir(parents=True)
    write_samconfig(saved, 'version = 0.1\n[local.deploy.parameters]\nstack_name = "guided"\n')
    name = StackName.resolve({"SAM_CONFIG_FILE": str(config)})
    assert name.name == "guided"
    assert name.source.endswith("build/local/samconfig.toml [local.deploy.parameters]")


def test_no_stack_name_anywhere_is_one_clear_error(tmp_path: Path) -> None:
    config = write_samconfig(tmp_path, "version = 0.1\n[default.global.parameters]\nstack_name = 'aws'\n")
    with pytest.raises(SystemExit, match="names no stack for \\[local\\]: set STACK_NAME"):
        StackName.resolve({"SAM_CONFIG_FILE": str(config)})


# ---------------------------------------------------------------- the local build's architecture
def test_machine_names_map_to_lambda_architectures() -> None:
    assert machine_architecture("aarch64") == "arm64"
    assert machine_architecture("arm64") == "arm64"
    assert machine_architecture("AMD64") == "x86_64"
    assert machine_architecture("x86_64") == "x86_64"


def fake_build(directory: Path, tags: dict[str, str]) -> Path:
    """A build dir shaped like `sam build`'s: a template and layers holding wheels with ``tags``."""
    (directory / "template.yaml").write_text("Resources: {}\n")
    for package, tag in tags.items():
        info = directory / "SharedLayer" / "python" / f"{package}-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "WHEEL").write_text(f"Wheel-Version: 1.0\nRoot-Is-Purelib: false\nTag: {tag}\n")
    return directory


def test_a_build_for_another_cpu_is_refused_naming_the_fix(tmp_path: Path) -> None:
    build = fake_build(
        tmp_path, {"pydantic_core": "cp313-cp313-manylinux_2_17_aarch64", "typing_extensions": "py3-none-any"}
    )
    assert wheel_architectures(build) == {"arm64": {"pydantic_core"}}
    problem = check(build, "x86_64")
    assert problem is not None
    assert "built for arm64 (pydantic_core) but the local engine runs x86_64" in problem
    assert "make build-local" in problem
    assert check(build, "arm64") is None


def test_a_missing_build_is_refused(tmp_path: Path) -> None:
    missing = tmp_path / "nothing"
    assert check(missing, "x86_64") == f"there is no build in {missing}: run `make build-local`"


def test_a_stack_deployed_for_another_cpu_than_the_engines_is_named_in_a_warning() -> None:
    with mock_aws():
        body = {
            "Parameters": {"Architecture": {"Type": "String", "Default": "arm64"}},
            "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        }
        boto3.client("cloudformation").create_stack(StackName="guided", TemplateBody=json.dumps(body))
        stack = Stack("guided")
        warning = stack.architecture_warning("x86_64")
        assert warning is not None
        assert "stack guided was deployed with Architecture=arm64 but the local engine runs x86_64" in warning
        assert "make deploy-local" in warning
        assert stack.architecture_warning("arm64") is None


def _installed(site: Path, name: str, files: dict[str, str]) -> None:
    """A distribution as pip leaves it in a layer: its files, and a dist-info whose RECORD lists them."""
    info = f"{name.replace('-', '_')}-1.0.dist-info"
    listed = [*files, f"{info}/METADATA", f"{info}/RECORD"]
    for path, text in {**files, f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n"}.items():
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_text(text)
    (site / info / "RECORD").write_text("".join(f"{path},,\n" for path in listed))


def test_the_layers_leave_boto3_and_its_dependencies_to_the_lambda_runtime(tmp_path: Path) -> None:
    site = tmp_path / "SharedLayer" / "python"
    _installed(site, "botocore", {"botocore/__init__.py": "", "botocore/data/s3/service-2.json": "{}"})
    (site / "botocore" / "__pycache__").mkdir()
    (site / "botocore" / "__pycache__" / "client.cpython-313.pyc").write_bytes(b"")  # not in RECORD
    _installed(site, "six", {"six.py": "", "../../bin/not-ours": ""})  # a script pip put outside the layer
    _installed(site, "python-dateutil", {"dateutil/__init__.py": ""})
    _installed(site, "pydantic", {"pydantic/__init__.py": "VERSION = '1.0'\n"})

    assert prune(site) == ["botocore", "python-dateutil", "six"]

    assert sorted(path.name for path in site.iterdir()) == ["pydantic", "pydantic-1.0.dist-info"]
    assert (tmp_path / "bin" / "not-ours").exists()  # nothing outside the layer is touched
    assert prune(site) == []


def test_the_finished_layers_ship_bytecode_that_needs_no_source_timestamps(tmp_path: Path) -> None:
    site = tmp_path / "PillowLayer" / "python"
    _installed(site, "pillow", {"PIL/__init__.py": "X = 1\n"})
    finish_layers(tmp_path, workers=1)
    compiled = site / "PIL" / "__pycache__" / f"__init__.{sys.implementation.cache_tag}.pyc"
    flags = int.from_bytes(compiled.read_bytes()[4:8], "little")
    assert flags == 0b01  # hash-based, unchecked: unzipping may reset the sources' mtimes


def test_the_recognition_layer_leaves_pillow_to_the_pillow_layer_and_keeps_its_own_packages(tmp_path: Path) -> None:
    # Given the recognition layer as pip leaves it: the model package pulled Pillow in
    site = tmp_path / "RecognitionLayer" / "python"
    _installed(site, "pillow", {"PIL/__init__.py": ""})
    _installed(site, "numpy", {"numpy/__init__.py": ""})
    _installed(site, "onnxruntime", {"onnxruntime/__init__.py": ""})
    pillow_layer = tmp_path / "PillowLayer" / "python"
    _installed(pillow_layer, "pillow", {"PIL/__init__.py": ""})
    # When the layers are finished
    finish_layers(tmp_path, workers=1)
    # Then only the Pillow layer has Pillow; the recognition layer keeps numpy and onnxruntime
    assert not (site / "PIL").exists()
    assert (site / "numpy" / "__init__.py").exists()
    assert (site / "onnxruntime" / "__init__.py").exists()
    assert (pillow_layer / "PIL" / "__init__.py").exists()


def test_a_layer_drops_the_test_suites_and_tooling_nothing_imports_at_run_time(tmp_path: Path) -> None:
    site = tmp_path / "python"
    for path in ["numpy/tests/test_a.py", "numpy/_core/tests/test_b.py", "numpy/testing/__init__.py", "numpy/core.py"]:
        (site / path).parent.mkdir(parents=True, exist_ok=True)
        (site / path).write_text("")
    removed = drop_unused(site, ("numpy/**/tests",))
    assert removed == ["numpy/_core/tests", "numpy/tests"]
    # numpy.testing is imported by numpy itself on demand: it stays
    assert sorted(p.relative_to(site).as_posix() for p in site.rglob("*.py")) == [
        "numpy/core.py",
        "numpy/testing/__init__.py",
    ]

"""Change a rendition spec on a deployed local stack, the way a team does: edit the specs, build,
deploy. The local build (`make build-local`) is copied, the copy's shared layer gets one more
web rendition width in ``image_pipeline/imaging/specs.py`` (what a commit adding a width changes
in a build), and the copy is deployed with the pipeline's own package and deploy steps, with the
parameters the stack has; then make reprocess's stack is deployed again (its item function runs
the app's shared layer, so both see the new specs). No code is patched in the running tests.
"""

import importlib.util
import os
import py_compile
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import boto3

from tests.template import ROOT

LOCAL_BUILD = ROOT / ".aws-sam" / "local"
CHANGED_BUILD = ROOT / ".aws-sam" / "local-spec-change"  # beside it: the built template names files relatively
SPECS = Path("SharedLayer/python/image_pipeline/imaging/specs.py")
WIDTHS = "for side in (1024, 2048)"  # WEB_RENDITIONS as main has them
ADDED = 1600


@dataclass(frozen=True)
class Build:
    path: Path
    spec_version: str  # the renditions job's spec version in this build


def _spec_version(specs_file: Path) -> str:
    spec = importlib.util.spec_from_file_location("specs_of_a_build", specs_file)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # plain data, no Pillow: safe to read here
    return str(module.SPEC_VERSIONS["renditions"])


def original() -> Build:
    return Build(LOCAL_BUILD, _spec_version(LOCAL_BUILD / SPECS))


def with_a_new_width(target: Path = CHANGED_BUILD) -> Build:
    """A copy of the local build whose renditions have one more width (``ADDED`` px)."""
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(LOCAL_BUILD, target, symlinks=True)
    specs = target / SPECS
    text = specs.read_text()
    assert WIDTHS in text, f"{SPECS} no longer says {WIDTHS!r}: update tests/spec_change.py"
    specs.write_text(text.replace(WIDTHS, f"for side in (1024, {ADDED}, 2048)"))
    # the layer ships unchecked bytecode (tools/build.py): compile the edited module the same way
    py_compile.compile(str(specs), invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH, doraise=True)
    compiled = specs.parent / "__pycache__" / "specs.cpython-313.pyc"
    assert compiled.is_file(), "the shared layer has no bytecode of specs.py where tools/build.py puts it"
    return Build(target, _spec_version(specs))


def deploy(build: Build, stack_name: str, environment: dict[str, str]) -> None:
    """Deploy ``build`` as the app stack ``stack_name`` with the parameters it has, then make
    reprocess's stack against it."""
    described = boto3.client("cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    parameters = " ".join(  # an empty one takes its default, which is empty
        f"{p['ParameterKey']}={p['ParameterValue']}" for p in described["Parameters"] if p.get("ParameterValue")
    )
    env = {**os.environ, **environment, "STACK_NAME": stack_name}
    steps = [
        [
            "make",
            "-s",
            "pipeline-package",
            "pipeline-deploy",
            f"BUILD_DIR={build.path}",
            f"STACK_NAME={stack_name}",
            "ARTIFACTS_BUCKET=",
            "CFN_ROLE_ARN=",
            f"ARCHITECTURE={described_parameter(described, 'Architecture')}",
            f"PARAMETERS={parameters}",
        ],
        [str(ROOT / ".venv" / "bin" / "python"), "-m", "tools.local_api"],
        ["make", "-s", "deploy-reprocess"],
    ]
    for step in steps:
        done = subprocess.run(step, cwd=ROOT, env=env, capture_output=True, text=True, check=False)
        assert done.returncode == 0, f"{' '.join(step[:3])}: {done.stdout[-2000:]}{done.stderr[-2000:]}"
    assert_the_alias_serves_the_new_layer(stack_name, "ApiFunction")


def assert_the_alias_serves_the_new_layer(stack_name: str, function: str, alias: str = "live") -> None:
    """The function's alias serves the new shared layer: the layer's PublishLambdaVersion makes a
    change of its content alone a new version of the function (without it, SAM hashes ``Layers``
    as written, a Ref, and the alias would keep serving the old layer, on AWS too)."""
    cloudformation, aws_lambda = boto3.client("cloudformation"), boto3.client("lambda")
    name = cloudformation.describe_stack_resource(StackName=stack_name, LogicalResourceId=function)[
        "StackResourceDetail"
    ]["PhysicalResourceId"]
    latest = aws_lambda.get_function_configuration(FunctionName=name)
    served = aws_lambda.get_function_configuration(FunctionName=name, Qualifier=alias)
    assert [layer["Arn"] for layer in served.get("Layers", [])] == [layer["Arn"] for layer in latest.get("Layers", [])]


def described_parameter(described: dict[str, object], key: str) -> str:
    parameters = described["Parameters"]
    assert isinstance(parameters, list)
    return str(next(p["ParameterValue"] for p in parameters if p["ParameterKey"] == key))

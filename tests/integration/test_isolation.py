"""Each built function imports with only what Lambda gives it: its code, its layers and the
runtime's SDK. (The local engine runs handlers on its own interpreter, whose packages would
hide a dependency missing from a layer.)"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import template
from tools.build import copy_runtime_sdk
from tools.stack import Stack

PROBE = """
import importlib, json, sys, sysconfig
allowed = json.loads(sys.argv[1])
sys.path[:0] = allowed
module = importlib.import_module(sys.argv[2])
stdlib = {sysconfig.get_path("stdlib"), sysconfig.get_path("platstdlib")}
outside = sorted(
    name for name, m in list(sys.modules.items())
    if getattr(m, "__file__", None)
    and not any(m.__file__.startswith(root) for root in [*allowed, *stdlib])
)
print(json.dumps({"handler": callable(getattr(module, sys.argv[3])), "outside": outside}))
"""


@pytest.fixture(scope="session")
def runtime_sdk(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding only the runtime's SDK packages, copied from this venv."""
    return copy_runtime_sdk(tmp_path_factory.mktemp("lambda-runtime"))


# Where `make deploy-local` builds each template (the push and the hub's parts: .aws-sam/local-<part>).
PARTS = (template.PUSH, *template.HUB_TEMPLATES)
BUILD_DIRS = {template.APP: "local", **{p: f"local-{Path(p).parent.name}" for p in PARTS}}
FUNCTIONS = [(path, f) for path in BUILD_DIRS for f in template.function_ids(path)]


@pytest.mark.parametrize(("path", "logical_id"), FUNCTIONS)
def test_the_built_function_imports_with_only_its_code_its_layers_and_the_runtime_sdk(
    path: str, logical_id: str, stack: Stack, built: Path, runtime_sdk: Path
) -> None:
    built = built.parent / BUILD_DIRS[path]
    properties = template.function_properties(logical_id, path)
    layers = [built / layer["Ref"] / "python" for layer in properties["Layers"]]
    allowed = [str(built / logical_id), *map(str, layers), str(runtime_sdk)]
    module, function = properties["Handler"].rsplit(".", 1)
    env = {
        **template.function_environment(logical_id, path),
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_ACCESS_KEY_ID": "test",
        "AWS_SECRET_ACCESS_KEY": "test",
        "PATH": os.environ["PATH"],
    }
    # -I: no user site or PYTHON* variables; -S: no site-packages at all.
    probe = subprocess.run(
        [sys.executable, "-I", "-S", "-c", PROBE, json.dumps(allowed), module, function],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr[-3000:]
    result = json.loads(probe.stdout.strip().splitlines()[-1])
    assert result == {"handler": True, "outside": []}

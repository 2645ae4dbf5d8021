"""tools/ says why each of its pieces exists, and keeps none the CLIs replaced."""

import os
import re
import subprocess
import sys

from tests.template import ROOT

TOOLS = ROOT / "tools"


def _listed() -> set[str]:
    table = (TOOLS / "README.md").read_text()
    return {name for cell in re.findall(r"^\| (`[^|]+`) \|", table, re.M) for name in re.findall(r"`([^`]+)`", cell)}


def test_every_tool_is_listed_with_its_reason_and_nothing_listed_is_gone() -> None:
    pieces = {p.name for p in TOOLS.iterdir() if p.name not in {"README.md", "__init__.py", "__pycache__"}}
    pieces = {f"{name}/" if (TOOLS / name).is_dir() else name for name in pieces}
    assert _listed() == pieces


def test_what_a_cli_does_is_left_to_it() -> None:
    makefile = (ROOT / "Makefile").read_text()
    # invoking a deployed function, and reading a stack's outputs, are the SAM and AWS CLIs' jobs
    assert "$(SAM) remote invoke" in makefile
    assert "cloudformation describe-stacks" in makefile
    assert not (TOOLS / "invoke.py").exists()


def test_every_tool_the_makefile_runs_starts_with_the_path_it_runs_with() -> None:
    """A tool started without the shared package on its path fails on its first import (make invoke did)."""
    makefile = (ROOT / "Makefile").read_text()
    named = set(re.findall(r"\btools\.(\w+)", makefile))
    assert named, "the Makefile runs no tools"
    assert not re.search(r"\$\(PY\) -m tools\.", makefile), "every tool runs through $(TOOL)"
    tool = subprocess.run(
        ["make", "-s", "--no-print-directory", "--eval", "print-tool: ; @echo $(TOOL)", "print-tool"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    env_prefix = dict(item.split("=", 1) for item in tool if "=" in item and not item.startswith("-"))
    python = sys.executable
    for module in sorted(named):
        done = subprocess.run(
            [python, "-c", f"import tools.{module}"],
            cwd=ROOT,
            env={"PATH": os.environ["PATH"], **env_prefix},
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, f"tools.{module}: {done.stderr.strip().splitlines()[-1:]}"

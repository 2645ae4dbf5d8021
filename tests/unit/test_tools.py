"""tools/ says why each of its pieces exists, and keeps none the CLIs replaced."""

import re

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

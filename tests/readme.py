"""The README's code blocks, for the tests that run them (docs that cannot rot)."""

import os
import re
from types import SimpleNamespace
from typing import Any

from tests.template import ROOT


def readme_block(language: str, containing: str) -> str:
    """The README's one fenced ``language`` block that contains ``containing``."""
    blocks = re.findall(rf"```{language}\n(.*?)```", (ROOT / "README.md").read_text(), re.DOTALL)
    (found,) = [b for b in blocks if containing in b]
    return str(found)


def readme_receiver(secret: str) -> SimpleNamespace:
    """The README's webhook receiver (receiver.py), loaded with ``secret`` as its WEBHOOK_SECRET."""
    namespace: dict[str, Any] = {"__name__": "receiver"}
    before = os.environ.get("WEBHOOK_SECRET")
    os.environ["WEBHOOK_SECRET"] = secret
    try:
        code = compile(readme_block("python", "receiver.py"), "README.md (receiver.py)", "exec")
        exec(code, namespace)  # noqa: S102 - the README's own code, as a reader would run it
    finally:
        if before is None:
            os.environ.pop("WEBHOOK_SECRET")
        else:
            os.environ["WEBHOOK_SECRET"] = before
    return SimpleNamespace(**namespace)

"""Expand template.yaml with the AWS SAM translator, as CloudFormation's SAM transform would.

    .venv-sam/bin/python -m tests.expand_template template.yaml   # prints the expanded template (JSON)

Runs in the SAM CLI's venv (the translator pins a pydantic the layers cannot share). Local
CodeUri/ContentUri/DefinitionUri paths are replaced by an S3 placeholder, as `sam package` would replace them.
"""

import json
import sys
from pathlib import Path
from typing import Any

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

PACKAGED = "s3://bucket/key"


class NoManagedPolicies:
    """The template names managed policies by ARN only, so the translator needs no IAM lookups."""

    def load(self) -> dict[str, str]:
        return {}


def expand(path: Path) -> dict[str, Any]:
    template = yaml_parse(path.read_text())
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        for uri in ("CodeUri", "ContentUri", "DefinitionUri"):
            if isinstance(properties.get(uri), str):
                properties[uri] = PACKAGED
    return dict(transform(template, {}, NoManagedPolicies()))


if __name__ == "__main__":
    json.dump(expand(Path(sys.argv[1])), sys.stdout, indent=1, default=str)

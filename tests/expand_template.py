"""Expand a template as CloudFormation would: the AWS::LanguageExtensions transform (Fn::ForEach,
Fn::FindInMap with defaults) with the SAM CLI's own implementation, then the AWS SAM translator.

    .venv-sam/bin/python -m tests.expand_template template.yaml [Name=Value ...]   # JSON on stdout

Runs in the SAM CLI's venv (the translator pins a pydantic the layers cannot share). Parameters
take their defaults unless given. Conditions and Fn::If are left for the reader (tests/template.py
evaluates them). Local CodeUri/ContentUri/DefinitionUri paths are replaced by an S3 placeholder,
as `sam package` would replace them.
"""

import json
import sys
from pathlib import Path
from typing import Any

from samcli.lib.cfn_language_extensions.api import create_default_intrinsic_resolver
from samcli.lib.cfn_language_extensions.models import PseudoParameterValues, TemplateProcessingContext
from samcli.lib.cfn_language_extensions.pipeline import ProcessingPipeline
from samcli.lib.cfn_language_extensions.processors import ForEachProcessor, TemplateParsingProcessor
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

PACKAGED = "s3://bucket/key"
LANGUAGE_EXTENSIONS = "AWS::LanguageExtensions"
PSEUDO = PseudoParameterValues(region="us-east-1", account_id="123456789012", stack_name="stack")


class NoManagedPolicies:
    """The templates name managed policies by ARN only, so the translator needs no IAM lookups."""

    def load(self) -> dict[str, str]:
        return {}


def parameter_values(template: dict[str, Any], overrides: dict[str, str]) -> dict[str, Any]:
    declared = template.get("Parameters", {})
    unknown = set(overrides) - set(declared)
    if unknown:
        raise SystemExit(f"no such parameter(s): {', '.join(sorted(unknown))}")
    return {name: overrides.get(name, spec.get("Default")) for name, spec in declared.items()}


def expand_loops(template: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """Fn::ForEach expanded, every other intrinsic left as written (the SAM CLI's resolvers turn
    an Fn::Sub they cannot resolve into a plain string; CloudFormation keeps it)."""
    context = TemplateProcessingContext(fragment=template, parameter_values=values, pseudo_parameters=PSEUDO)
    loops = ForEachProcessor(intrinsic_resolver=create_default_intrinsic_resolver(context))
    expanded = dict(ProcessingPipeline([TemplateParsingProcessor(), loops]).process_template(context))
    return dict(_literal(expanded, expanded.get("Mappings", {})))


def _literal(node: Any, mappings: dict[str, Any]) -> Any:
    """What the transform leaves once a loop filled in its identifier: an Fn::Sub with nothing left
    to substitute is its string (so ``Ref``/``Fn::GetAtt`` name a resource), and an Fn::FindInMap
    of literal keys is its value."""
    if isinstance(node, list):
        return [_literal(item, mappings) for item in node]
    if not isinstance(node, dict):
        return node
    node = {key: _literal(value, mappings) for key, value in node.items()}
    if set(node) == {"Fn::Sub"} and isinstance(node["Fn::Sub"], str) and "${" not in node["Fn::Sub"]:
        return node["Fn::Sub"]
    if set(node) == {"Fn::FindInMap"} and all(isinstance(key, str) for key in node["Fn::FindInMap"]):
        name, top, second = node["Fn::FindInMap"]
        return mappings[name][top][second]
    return node


def expand(path: Path, overrides: dict[str, str] | None = None) -> dict[str, Any]:
    template = yaml_parse(path.read_text())
    values = parameter_values(template, overrides or {})
    transforms = template.get("Transform", [])
    if LANGUAGE_EXTENSIONS in (transforms if isinstance(transforms, list) else [transforms]):
        template = expand_loops(template, values)
        template["Transform"] = "AWS::Serverless-2016-10-31"
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        for uri in ("CodeUri", "ContentUri", "DefinitionUri"):
            if isinstance(properties.get(uri), str):
                properties[uri] = PACKAGED
    expanded = dict(transform(template, values, NoManagedPolicies()))
    expanded["Parameters"] = {**expanded.get("Parameters", {})}
    for name, value in values.items():  # what the template was expanded with
        expanded["Parameters"].setdefault(name, {})["Value"] = value
    return expanded


if __name__ == "__main__":
    given = dict(argument.split("=", 1) for argument in sys.argv[2:])
    json.dump(expand(Path(sys.argv[1]), given), sys.stdout, indent=1, default=str)

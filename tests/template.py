"""template.yaml (and the hub's templates), read the way tests need it: functions, their layers
and their environment.

Tests derive everything from the templates (the single source of truth) instead of repeating it.
Every helper reads template.yaml unless given another template's path (relative to the repo).
"""

import re
from functools import cache
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parent.parent
FUNCTION = "AWS::Serverless::Function"
APP = "template.yaml"
HUB_TEMPLATES = ("hub/template.yaml", "consumers/aggregates/template.yaml", "consumers/history/template.yaml")


@cache
def load(path: str = APP) -> dict[str, Any]:
    return dict(cfn_yaml.load(str(ROOT / path)))


def resources(kind: str, path: str = APP) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in load(path)["Resources"].items() if r["Type"] == kind}


def function_ids(path: str = APP) -> list[str]:
    return sorted(resources(FUNCTION, path))


def function_properties(logical_id: str, path: str = APP) -> dict[str, Any]:
    """A function's properties with the Globals merged in, as SAM merges them."""
    globals_ = dict(load(path).get("Globals", {}).get("Function", {}))
    own = dict(resources(FUNCTION, path)[logical_id]["Properties"])
    merged = {**globals_, **own}
    merged["Layers"] = [*globals_.get("Layers", []), *own.get("Layers", [])]
    merged["Environment"] = {
        "Variables": {
            **globals_.get("Environment", {}).get("Variables", {}),
            **own.get("Environment", {}).get("Variables", {}),
        }
    }
    return merged


def physical_name(logical_id: str) -> str:
    """The name tests give a resource the template names by reference (valid for S3 too)."""
    return f"test-{logical_id.lower()}"


# Pseudo parameters as tests see them (the unit tests' moto account and region).
PSEUDO = {
    "AWS::Region": "us-east-1",
    "AWS::AccountId": "123456789012",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "test-stack",
}


def condition(name: str, path: str = APP, parameters: dict[str, str] | None = None) -> bool:
    """A template condition with the parameters' defaults (or ``parameters``): Equals, Not, And, Or."""

    def value(item: Any) -> str:
        if isinstance(item, dict) and "Ref" in item:
            given = (parameters or {}).get(item["Ref"])
            return given if given is not None else resolve(item, path)
        return str(item)

    def evaluate(expression: Any) -> bool:
        (function, arguments), *_ = expression.items()
        if function == "Condition":
            return evaluate(load(path)["Conditions"][arguments])
        if function == "Fn::Equals":
            return value(arguments[0]) == value(arguments[1])
        if function == "Fn::Not":
            return not evaluate(arguments[0])
        if function == "Fn::And":
            return all(evaluate(a) for a in arguments)
        if function == "Fn::Or":
            return any(evaluate(a) for a in arguments)
        raise ValueError(f"no test value for condition {expression!r}")

    return evaluate(load(path)["Conditions"][name])


def _sub(text: str, path: str) -> str:
    def name(match: re.Match[str]) -> str:
        ref = match.group(1)
        if ref in PSEUDO:
            return PSEUDO[ref]
        if "." in ref:
            logical_id, attribute = ref.split(".", 1)
            return resolve({"Fn::GetAtt": [logical_id, attribute]}, path)
        return resolve({"Ref": ref}, path)

    return re.sub(r"\$\{([^}!][^}]*)\}", name, text)


def resolve(value: Any, path: str = APP) -> str:  # noqa: PLR0911 - one return per intrinsic
    """A test value for an environment variable: parameters take their defaults, resources their
    test names, mappings their values, conditions their value with the defaults."""
    template = load(path)
    if isinstance(value, (str, int, float)):
        return str(value)
    if "Fn::If" in value:
        name, if_true, if_false = value["Fn::If"]
        return resolve(if_true if condition(name, path) else if_false, path)
    if "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        return _sub(value["Fn::Sub"], path)
    if "Ref" in value:
        name = value["Ref"]
        if name in template.get("Parameters", {}):
            return str(template["Parameters"][name]["Default"])
        return physical_name(name)
    if "Fn::FindInMap" in value:
        mapping, key, attribute = value["Fn::FindInMap"]
        return str(template["Mappings"][mapping][key][attribute])
    if "Fn::GetAtt" in value:
        logical_id, attribute = value["Fn::GetAtt"]
        return f"{physical_name(logical_id)}-{attribute.lower()}"
    if "Fn::Join" in value:
        separator, items = value["Fn::Join"]
        if isinstance(items, dict) and "Ref" in items:  # a list parameter, joined
            return str(template["Parameters"][items["Ref"]]["Default"])
        return str(separator).join(resolve(item, path) for item in items)
    raise ValueError(f"no test value for {value!r}")


def function_environment(logical_id: str, path: str = APP) -> dict[str, str]:
    variables = function_properties(logical_id, path)["Environment"]["Variables"]
    return {name: resolve(value, path) for name, value in variables.items()}


def handler_path(logical_id: str, path: str = APP) -> tuple[Path, str]:
    """The handler's source file and function name, from CodeUri (relative to the template) + Handler."""
    properties = function_properties(logical_id, path)
    module, function = properties["Handler"].rsplit(".", 1)
    code = (ROOT / path).parent / properties["CodeUri"]
    return code.resolve() / f"{module.replace('.', '/')}.py", function

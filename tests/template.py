"""template.yaml, read the way tests need it: functions, their layers and their environment.

Tests derive everything from the template (the single source of truth) instead of repeating it.
"""

from functools import cache
from pathlib import Path
from typing import Any

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parent.parent
FUNCTION = "AWS::Serverless::Function"


@cache
def load() -> dict[str, Any]:
    return dict(cfn_yaml.load(str(ROOT / "template.yaml")))


def resources(kind: str) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in load()["Resources"].items() if r["Type"] == kind}


def function_ids() -> list[str]:
    return sorted(resources(FUNCTION))


def function_properties(logical_id: str) -> dict[str, Any]:
    """A function's properties with the Globals merged in, as SAM merges them."""
    globals_ = dict(load().get("Globals", {}).get("Function", {}))
    own = dict(resources(FUNCTION)[logical_id]["Properties"])
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


def resolve(value: Any) -> str:
    """A test value for an environment variable: parameters take their defaults, resources their
    test names, mappings their values."""
    template = load()
    if isinstance(value, (str, int, float)):
        return str(value)
    if "Ref" in value:
        name = value["Ref"]
        if name in template.get("Parameters", {}):
            return str(template["Parameters"][name]["Default"])
        return physical_name(name)
    if "Fn::FindInMap" in value:
        mapping, key, attribute = value["Fn::FindInMap"]
        return str(template["Mappings"][mapping][key][attribute])
    raise ValueError(f"no test value for {value!r}")


def function_environment(logical_id: str) -> dict[str, str]:
    variables = function_properties(logical_id)["Environment"]["Variables"]
    return {name: resolve(value) for name, value in variables.items()}


def handler_path(logical_id: str) -> tuple[Path, str]:
    """The handler's source file and function name, from CodeUri + Handler."""
    properties = function_properties(logical_id)
    module, function = properties["Handler"].rsplit(".", 1)
    return ROOT / properties["CodeUri"] / f"{module.replace('.', '/')}.py", function

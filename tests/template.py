"""template.yaml (and the hub's templates), read the way tests need it: functions, their layers
and their environment.

Tests derive everything from the templates (the single source of truth) instead of repeating it.
Every helper reads template.yaml unless given another template's path (relative to the repo).
"""

import json
import os
import re
import subprocess
from dataclasses import dataclass
from functools import cache, cached_property
from pathlib import Path
from typing import Any, ClassVar

from cfnlint.decode import cfn_yaml

ROOT = Path(__file__).resolve().parent.parent
FUNCTION = "AWS::Serverless::Function"
APP = "template.yaml"
# Beside the app, from its outputs: the push (WebSocket watch, webhooks).
PUSH = "push/template.yaml"
HUB = "hub/template.yaml"
# Every consumer is a folder of its own under consumers/ (a new one needs no edit here).
CONSUMERS = tuple(
    f"consumers/{folder.name}/template.yaml"
    for folder in sorted((ROOT / "consumers").iterdir())
    if (folder / "template.yaml").is_file()
)
HUB_TEMPLATES = (HUB, *CONSUMERS)
REPROCESS = "reprocess/template.yaml"  # make reprocess: deployed after the app, wired by its outputs


@cache
def load(path: str = APP) -> dict[str, Any]:
    """The template as written, with its Fn::ForEach loops unrolled (SAM resources not expanded:
    see :func:`expanded` for the template as CloudFormation deploys it)."""
    template = dict(cfn_yaml.load(str(ROOT / path)))
    lists = {
        name: str(spec.get("Default", "")).split(",")
        for name, spec in template.get("Parameters", {}).items()
        if spec.get("Type") == "CommaDelimitedList"
    }
    for section in ("Resources", "Outputs", "Conditions"):
        if section in template:
            template[section] = _unrolled(template[section], {}, lists)
    return template


_PLACEHOLDER = re.compile(r"\$\{([A-Za-z0-9_]+)\}")
_ANY_PLACEHOLDER = re.compile(r"\$\{([^}!][^}]*)\}")  # ${Parameter}, ${AWS::Region}, ${Resource.Attribute}
_ID_PLACEHOLDER = re.compile(r"[$&]\{([A-Za-z0-9_]+)\}")  # in a logical id, &{X} keeps X's letters and digits
FOR_EACH = "Fn::ForEach::"


def _unrolled(node: Any, bindings: dict[str, str], lists: dict[str, list[str]]) -> Any:
    """Fn::ForEach as AWS::LanguageExtensions expands it, for the forms the templates use: the
    identifier in the fragment's keys, in Fn::Sub strings and as a Ref; an Fn::Sub left with
    nothing to substitute becomes its string (so a Ref or Fn::GetAtt names the resource)."""
    if isinstance(node, list):
        return [_unrolled(item, bindings, lists) for item in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"}:
        name = _unrolled(node["Ref"], bindings, lists)
        return bindings[name] if isinstance(name, str) and name in bindings else {"Ref": name}
    if set(node) == {"Fn::Sub"}:
        return _unrolled_sub(node["Fn::Sub"], bindings, lists)
    unrolled: dict[str, Any] = {}
    for key, value in node.items():
        if key.startswith(FOR_EACH):
            unrolled.update(_loop(value, bindings, lists))
        else:
            unrolled[key] = _unrolled(value, bindings, lists)
    return unrolled


def _unrolled_sub(argument: Any, bindings: dict[str, str], lists: dict[str, list[str]]) -> Any:
    text = argument if isinstance(argument, str) else argument[0]
    text = _PLACEHOLDER.sub(lambda m: bindings.get(m[1], m[0]), text)
    if not isinstance(argument, str):
        return {"Fn::Sub": [text, _unrolled(argument[1], bindings, lists)]}
    return text if "${" not in text else {"Fn::Sub": text}


def _loop(spec: list[Any], bindings: dict[str, str], lists: dict[str, list[str]]) -> dict[str, Any]:
    identifier, collection, fragment = spec
    if isinstance(collection, dict):  # a Ref to a list parameter: its default
        collection = lists[collection["Ref"]]
    produced = {}
    for item in collection:
        scoped = {**bindings, identifier: item}

        def placeholder(match: re.Match[str], scoped: dict[str, str] = scoped) -> str:
            return re.sub(r"[^0-9A-Za-z]", "", scoped[match[1]])

        for key, member in fragment.items():
            produced[_ID_PLACEHOLDER.sub(placeholder, key)] = _unrolled(member, scoped, lists)
    return produced


def resources(kind: str, path: str = APP) -> dict[str, dict[str, Any]]:
    return {name: r for name, r in load(path)["Resources"].items() if r["Type"] == kind}


def function_ids(path: str = APP) -> list[str]:
    return sorted(resources(FUNCTION, path))


def defining(logical_id: str) -> str:
    """The one template that defines the function ``logical_id`` (the catalogue names functions
    by logical id, whichever template they are in)."""
    (path,) = [path for path in TEMPLATES if logical_id in resources(FUNCTION, path)]
    return path


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


# Pseudo parameters as tests see them (the unit tests' moto account and region).
PSEUDO_PARAMETERS = {
    "AWS::AccountId": "123456789012",
    "AWS::Region": "us-east-1",
    "AWS::Partition": "aws",
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "test-stack",
}


def physical_name(logical_id: str) -> str:
    """The name tests give a resource the template names by reference (valid for S3 too)."""
    return f"test-{logical_id.lower()}"


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
        if ref in PSEUDO_PARAMETERS:
            return PSEUDO_PARAMETERS[ref]
        if "." in ref:
            logical_id, attribute = ref.split(".", 1)
            return resolve({"Fn::GetAtt": [logical_id, attribute]}, path)
        return resolve({"Ref": ref}, path)

    return _ANY_PLACEHOLDER.sub(name, text)


def _referenced(name: str, path: str) -> str:
    """A Ref's test value. A parameter without a default is the app stack's name or the output it
    is given (the stacks beside the app take the app's outputs of the same names); any other, its
    test name."""
    parameters = load(path).get("Parameters", {})
    if name in PSEUDO_PARAMETERS:
        return PSEUDO_PARAMETERS[name]
    if name not in parameters:
        return physical_name(name)
    if "Default" in parameters[name]:
        return str(parameters[name]["Default"])
    if name == "AppStackName":
        return PSEUDO_PARAMETERS["AWS::StackName"]
    outputs = load(APP)["Outputs"]
    return resolve(outputs[name]["Value"]) if name in outputs else physical_name(name)


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
        return _referenced(value["Ref"], path)
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


# ---------------------------------------------------------------- as CloudFormation deploys it
TEMPLATES = (APP, PUSH, *HUB_TEMPLATES, REPROCESS)
SAM_PYTHON = ROOT / ".venv-sam" / "bin" / "python"
ACCOUNT = PSEUDO_PARAMETERS["AWS::AccountId"]  # the account tests/expand_template.py expands in
# What `make deploy-local` gives reprocess/template.yaml from the app's outputs, as test values.
REPROCESS_WIRING = {
    "ImagesBucketName": "test-imagesbucket",
    "ImagesTableName": "test-imagestable",
    "AppBusName": "test-appbus",
    "RenditionQueueArn": f"arn:aws:sqs:us-east-1:{ACCOUNT}:test-renditionqueue",
    "RenditionQueueUrl": f"https://sqs.us-east-1.amazonaws.com/{ACCOUNT}/test-renditionqueue",
    "SharedLayerArn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:layer:test-sharedlayer:1",
    "AlarmTopicArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:test-alarmtopic",
}


@cache
def _expanded(path: str, parameters: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    arguments = [f"{name}={value}" for name, value in parameters]
    done = subprocess.run(
        [str(SAM_PYTHON), "-m", "tests.expand_template", path, *arguments],
        cwd=ROOT,
        env={**os.environ, "AWS_DEFAULT_REGION": "us-east-1"},
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode:
        raise RuntimeError(f"expanding {path}: {done.stderr[-3000:]}")
    return dict(json.loads(done.stdout))


@dataclass(frozen=True)
class Deployed:
    """A template expanded by AWS::LanguageExtensions and the SAM transform, with its conditions
    decided for one set of parameters: what CloudFormation would create, and nothing else.
    Fn::If takes its branch, AWS::NoValue disappears, parameters and mappings are their values;
    references to resources (Ref, Fn::GetAtt, Fn::Sub) stay as written, to be followed."""

    path: str
    parameters: tuple[tuple[str, str], ...] = ()

    @classmethod
    def of(cls, path: str, **parameters: str) -> "Deployed":
        return cls(path, tuple(sorted(parameters.items())))

    @cached_property
    def raw(self) -> dict[str, Any]:
        return _expanded(self.path, self.parameters)

    @cached_property
    def values(self) -> dict[str, Any]:
        return {name: spec.get("Value") for name, spec in self.raw.get("Parameters", {}).items()}

    @cached_property
    def conditions(self) -> dict[str, bool]:
        decided: dict[str, bool] = {}
        definitions = self.raw.get("Conditions", {})

        def holds(node: Any) -> bool:
            ((function, argument),) = node.items()
            if function == "Condition":
                if argument not in decided:
                    decided[argument] = holds(definitions[argument])
                return decided[argument]
            if function == "Fn::Equals":
                left, right = (self.value(a) for a in argument)
                return str(left) == str(right)
            if function == "Fn::Not":
                return not holds(argument[0])
            if function == "Fn::And":
                return all(holds(a) for a in argument)
            if function == "Fn::Or":
                return any(holds(a) for a in argument)
            raise ValueError(f"unsupported condition {node!r}")

        for name in definitions:
            holds({"Condition": name})
        return decided

    def value(self, node: Any) -> Any:
        """``node`` with what the stack decides at deploy time resolved."""
        if isinstance(node, list):
            return [v for v in (self.value(item) for item in node) if v is not _NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1 and (function := next(iter(node))) in self._INTRINSICS:
            resolved = getattr(self, self._INTRINSICS[function])(node[function])
            if resolved is not _UNRESOLVED:
                return resolved
            return node
        members = {key: self.value(value) for key, value in node.items()}
        return {key: value for key, value in members.items() if value is not _NO_VALUE}

    _INTRINSICS: ClassVar[dict[str, str]] = {
        "Ref": "_ref",
        "Fn::If": "_if",
        "Fn::FindInMap": "_find_in_map",
        "Fn::Join": "_join",
        "Fn::Split": "_split",
        "Fn::Select": "_select",
        "Fn::Sub": "_sub",
    }

    def _ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return _NO_VALUE
        if name == "AWS::AccountId":
            return ACCOUNT
        if name not in self.values:
            return _UNRESOLVED  # a resource: follow it with referenced()
        value = self.values[name]
        if self.raw["Parameters"][name].get("Type") == "CommaDelimitedList":
            return [v for v in str(value or "").split(",") if v]
        return value

    def _if(self, argument: list[Any]) -> Any:
        condition, then, otherwise = argument
        return self.value(then if self.conditions[condition] else otherwise)

    def _find_in_map(self, argument: list[Any]) -> Any:
        name, top, second = (self.value(part) for part in argument)
        return self.raw["Mappings"][name][top][second]

    def _join(self, argument: list[Any]) -> Any:
        separator, items = argument[0], self.value(argument[1])
        if isinstance(items, list) and all(isinstance(item, str) for item in items):
            return separator.join(items)
        return {"Fn::Join": [separator, items]}

    def _split(self, argument: list[Any]) -> Any:
        separator, text = argument[0], self.value(argument[1])
        return text.split(separator) if isinstance(text, str) else {"Fn::Split": [separator, text]}

    def _select(self, argument: list[Any]) -> Any:
        index, items = (self.value(part) for part in argument)
        return items[int(index)] if isinstance(items, list) else {"Fn::Select": [index, items]}

    def _sub(self, argument: Any) -> Any:
        """A string whose every placeholder is a parameter or a pseudo parameter, substituted (one
        that names a resource stays as written, to be followed)."""
        if not isinstance(argument, str):
            return _UNRESOLVED
        known = {**PSEUDO_PARAMETERS, **{name: str(value) for name, value in self.values.items()}}
        if not all(name in known for name in _ANY_PLACEHOLDER.findall(argument)):
            return _UNRESOLVED
        return _ANY_PLACEHOLDER.sub(lambda match: known[match[1]], argument)

    @cached_property
    def resources(self) -> dict[str, dict[str, Any]]:
        found = {}
        for name, resource in self.raw["Resources"].items():
            if "Condition" in resource and not self.conditions[resource["Condition"]]:
                continue
            found[name] = self.value(resource)
        return found

    def of_type(self, kind: str) -> dict[str, dict[str, Any]]:
        return {name: r for name, r in self.resources.items() if r["Type"] == kind}

    def properties(self, logical_id: str) -> dict[str, Any]:
        return dict(self.resources[logical_id].get("Properties", {}))


_NO_VALUE = object()  # a Ref to AWS::NoValue: the member is left out
_UNRESOLVED = object()


def referenced(node: Any) -> str | None:
    """The logical id a ``Ref`` or an ``Fn::GetAtt`` names (None for anything else)."""
    if isinstance(node, dict) and set(node) == {"Ref"} and isinstance(node["Ref"], str):
        return node["Ref"]
    if isinstance(node, dict) and set(node) == {"Fn::GetAtt"}:
        target = node["Fn::GetAtt"]
        return str(target[0] if isinstance(target, list) else target.split(".")[0])
    return None

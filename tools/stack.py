"""A deployed stack of this template, as a client sees it: outputs, API URL and key, resources.

    python -m tools.stack name    # the local stack's name (and, on stderr, where it came from)

The local stack is the one named by STACK_NAME if set, else the one samconfig.toml's `local`
environment names: first where `sam deploy --guided --config-env local` saves its answers (SAM
writes them beside the deployed template: .aws-sam/local/samconfig.toml), then samconfig.toml's
`[local.deploy.parameters]` and `[local.global.parameters]`. SAM_CONFIG_FILE names another
samconfig.toml.
"""

import argparse
import os
import platform
import sys
import tomllib
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import boto3
from botocore.exceptions import ClientError, EndpointConnectionError

from tools.engine import ROOT, LocalEngine

SAMCONFIG = ROOT / "samconfig.toml"
LOCAL_CONFIG_ENV = "local"


def machine_architecture(machine: str | None = None) -> str:
    """This machine's CPU as Lambda names it (arm64 or x86_64): the local engine's architecture."""
    machine = (machine or platform.machine()).lower()
    return {"aarch64": "arm64", "arm64": "arm64", "x86_64": "x86_64", "amd64": "x86_64"}.get(machine, machine)


@dataclass(frozen=True)
class StackName:
    name: str
    source: str  # where the name came from, in words

    @classmethod
    def resolve(cls, environ: dict[str, str] | None = None, config_env: str = LOCAL_CONFIG_ENV) -> "StackName":
        environ = dict(os.environ if environ is None else environ)
        if environ.get("STACK_NAME"):
            return cls(environ["STACK_NAME"], "STACK_NAME")
        samconfig = Path(environ.get("SAM_CONFIG_FILE") or SAMCONFIG)
        config = _read_samconfig(samconfig)
        # `sam deploy --guided` saves its answers next to the template it deployed (SAM's rule),
        # i.e. beside the local build, not in samconfig.toml: look there first.
        template_file = _section(config, config_env, "deploy").get("template_file")
        places: list[tuple[Path, dict[str, Any], tuple[str, ...]]] = [(samconfig, config, ("deploy", "global"))]
        if template_file:
            saved = samconfig.parent / str(template_file)
            saved = saved.parent / samconfig.name
            if saved.is_file():
                places.insert(0, (saved, _read_samconfig(saved), ("deploy",)))
        for path, parameters, commands in places:
            for command in commands:
                name = _section(parameters, config_env, command).get("stack_name")
                if name:
                    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path
                    return cls(str(name), f"{where} [{config_env}.{command}.parameters]")
        raise SystemExit(f"{samconfig} names no stack for [{config_env}]: set STACK_NAME=<your stack>")


def _read_samconfig(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise SystemExit(f"cannot read {path} ({error}): set STACK_NAME=<your stack>") from None


def _section(config: dict[str, Any], config_env: str, command: str) -> dict[str, Any]:
    return dict(config.get(config_env, {}).get(command, {}).get("parameters", {}))


@dataclass
class Stack:
    name: str
    endpoint_url: str | None = None  # the local engine's URL; None on AWS

    @cached_property
    def description(self) -> dict[str, Any]:
        cloudformation = boto3.client("cloudformation")
        try:
            return dict(cloudformation.describe_stacks(StackName=self.name)["Stacks"][0])
        except EndpointConnectionError:
            raise SystemExit(f"nothing answers on {self.endpoint_url}: start it with `make deploy-local`") from None
        except ClientError as error:
            if "does not exist" not in str(error):
                raise
            raise SystemExit(
                f"stack {self.name} is not deployed here: run `make deploy-local`"
                " (or set STACK_NAME to the stack you deployed)"
            ) from None

    @cached_property
    def outputs(self) -> dict[str, str]:
        return {o["OutputKey"]: o["OutputValue"] for o in self.description.get("Outputs", [])}

    @cached_property
    def parameters(self) -> dict[str, str]:
        return {p["ParameterKey"]: p.get("ParameterValue", "") for p in self.description.get("Parameters", [])}

    @property
    def api_url(self) -> str:
        if self.endpoint_url:
            # ministack serves REST APIs under /_aws/execute-api/{apiId}/{stage}
            return f"{self.endpoint_url}/_aws/execute-api/{self.outputs['ApiId']}/{self.outputs['ApiStage']}"
        return self.outputs["ApiUrl"]

    @cached_property
    def api_key(self) -> str:
        key = boto3.client("apigateway").get_api_key(apiKey=self.outputs["ApiKeyId"], includeValue=True)
        return str(key["value"])

    def physical_id(self, logical_id: str) -> str:
        resource = boto3.client("cloudformation").describe_stack_resource(
            StackName=self.name, LogicalResourceId=logical_id
        )
        return str(resource["StackResourceDetail"]["PhysicalResourceId"])

    def architecture_warning(self, engine_architecture: str) -> str | None:
        """A sentence when the stack was deployed for another CPU than the engine's, else None."""
        deployed = self.parameters.get("Architecture")
        if not deployed or deployed == engine_architecture:
            return None
        return (
            f"warning: stack {self.name} was deployed with Architecture={deployed} but the local engine runs"
            f" {engine_architecture}; if its functions fail to start, redeploy with `make deploy-local`"
        )

    def client_env(self) -> dict[str, str]:
        return {
            "STACK_NAME": self.name,
            "API_URL": self.api_url,
            "API_KEY": self.api_key,
            "IMAGES_BUCKET": self.outputs["ImagesBucketName"],
        }


def local_stack(engine: LocalEngine | None = None, *, announce: bool = True) -> Stack:
    """The local stack (see the module's docstring); says on stderr which one and why."""
    engine = engine or LocalEngine()
    os.environ.update(engine.client_env())
    name = StackName.resolve()
    stack = Stack(name.name, endpoint_url=engine.url)
    if announce:
        print(f"stack {name.name} (from {name.source}) on {engine.url}", file=sys.stderr)
        warning = stack.architecture_warning(machine_architecture())
        if warning:
            print(warning, file=sys.stderr)
    return stack


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["name"])
    parser.parse_args()
    resolved = StackName.resolve()
    print(f"stack {resolved.name} (from {resolved.source})", file=sys.stderr)
    print(resolved.name)


if __name__ == "__main__":
    main()

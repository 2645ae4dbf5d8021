"""A deployed stack of this template, as a client sees it: outputs, API URL and key, resources.

python -m tools.stack env                      # export lines for the local deployment (make local-env)
python -m tools.stack output <stack> <key>     # one output of a deployed stack (the Makefile wires stacks)
"""

import argparse
import os
import shlex
from dataclasses import dataclass
from functools import cached_property

import boto3
from botocore.exceptions import ClientError, EndpointConnectionError

from tools.engine import LocalEngine

LOCAL_STACK_NAME = "image-pipeline-local"


@dataclass
class Stack:
    name: str
    endpoint_url: str | None = None  # the local engine's URL; None on AWS

    @cached_property
    def outputs(self) -> dict[str, str]:
        cloudformation = boto3.client("cloudformation")
        try:
            stacks = cloudformation.describe_stacks(StackName=self.name)["Stacks"]
        except EndpointConnectionError:
            raise SystemExit(f"nothing answers on {self.endpoint_url}: start it with `make deploy-local`") from None
        except ClientError as error:
            if "does not exist" not in str(error):
                raise
            raise SystemExit(f"stack {self.name} is not deployed here: run `make deploy-local` first") from None
        return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}

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

    def client_env(self) -> dict[str, str]:
        return {"STACK_NAME": self.name, "API_URL": self.api_url, "API_KEY": self.api_key}


def local_stack(engine: LocalEngine | None = None) -> Stack:
    engine = engine or LocalEngine()
    os.environ.update(engine.client_env())
    return Stack(os.environ.get("STACK_NAME", LOCAL_STACK_NAME), endpoint_url=engine.url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["env", "output"])
    parser.add_argument("args", nargs="*", help="output: the stack name and the output key")
    args = parser.parse_args()
    engine = LocalEngine()
    if args.command == "output":
        name, key = args.args
        os.environ.update(engine.client_env())
        print(Stack(name, endpoint_url=engine.url).outputs[key])
        return
    stack = local_stack(engine)
    for name, value in {**engine.client_env(), **stack.client_env()}.items():
        print(f"export {name}={shlex.quote(value)}")


if __name__ == "__main__":
    main()

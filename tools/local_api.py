"""After a deploy to the local engine: apply the API's gateway responses from template.yaml.

The engine builds a REST API from SAM's OpenAPI definition but drops its
``x-amazon-apigateway-gateway-responses``, so API Gateway's own errors (missing or wrong API key,
throttling, unknown route) would lose the JSON shape and the CORS headers the template gives
them. This puts the template's ``GatewayResponses`` on the deployed API and redeploys its stage,
as AWS has them from the definition itself. Nothing here runs against AWS.

    python -m tools.local_api
"""

import re
from pathlib import Path
from typing import Any

import boto3
from cfnlint.decode import cfn_yaml

from tools.stack import local_stack

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"


def _resolve(value: Any, parameters: dict[str, str]) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        return re.sub(r"\$\{(\w+)\}", lambda m: parameters[m[1]], value["Fn::Sub"])
    raise ValueError(f"cannot resolve {value!r} locally")


def gateway_responses(parameters: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The template's gateway responses, in the shape of API Gateway's PutGatewayResponse."""
    template = cfn_yaml.load(str(TEMPLATE))
    declared = template["Resources"]["ImagesApi"]["Properties"].get("GatewayResponses", {})
    return {
        response_type: {
            "responseParameters": {
                f"gatewayresponse.header.{name}": _resolve(value, parameters)
                for name, value in spec.get("ResponseParameters", {}).get("Headers", {}).items()
            },
            "responseTemplates": dict(spec.get("ResponseTemplates", {})),
        }
        for response_type, spec in declared.items()
    }


def main() -> None:
    stack = local_stack()
    cloudformation, apigateway = boto3.client("cloudformation"), boto3.client("apigateway")
    described = cloudformation.describe_stacks(StackName=stack.name)["Stacks"][0]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in described.get("Parameters", [])}
    api_id, stage = stack.outputs["ApiId"], stack.outputs["ApiStage"]
    for response_type, response in gateway_responses(parameters).items():
        apigateway.put_gateway_response(restApiId=api_id, responseType=response_type, **response)
    apigateway.create_deployment(restApiId=api_id, stageName=stage, description="gateway responses from template.yaml")
    print(f"applied the template's gateway responses to {api_id}/{stage}")


if __name__ == "__main__":
    main()

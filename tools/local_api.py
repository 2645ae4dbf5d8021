"""After a deploy to the local engine: put back what its import of the API's definition drops.

The engine builds a REST API from SAM's OpenAPI definition (the stack's processed template) but
keeps only each operation's integration type and URI. Two things are lost, both kept by AWS:

- ``x-amazon-apigateway-gateway-responses``: API Gateway's own errors (missing or wrong API key,
  throttling, unknown route) would lose the JSON shape and the CORS headers the template gives them.
- A MOCK integration's request template and integration responses: the CORS preflights SAM's
  ``Cors`` property answers in API Gateway itself would come back without a single CORS header.

This puts both on the deployed API, from the stack's own processed template (so exactly what SAM
generated), and redeploys its stage. Nothing here runs against AWS.

    python -m tools.local_api
"""

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
from cfnlint.decode import cfn_yaml

from tools.stack import local_stack

TEMPLATE = Path(__file__).resolve().parent.parent / "template.yaml"
API = "ImagesApi"
_HTTP_METHODS = frozenset({"get", "put", "post", "delete", "options", "head", "patch"})


def _resolve(value: Any, parameters: dict[str, str]) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Sub" in value and isinstance(value["Fn::Sub"], str):
        return re.sub(r"\$\{(\w+)\}", lambda m: parameters[m[1]], value["Fn::Sub"])
    raise ValueError(f"cannot resolve {value!r} locally")


def gateway_responses(parameters: dict[str, str]) -> dict[str, dict[str, Any]]:
    """The template's gateway responses, in the shape of API Gateway's PutGatewayResponse."""
    template = cfn_yaml.load(str(TEMPLATE))
    declared = template["Resources"][API]["Properties"].get("GatewayResponses", {})
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


def mock_integrations(definition: dict[str, Any], parameters: dict[str, str]) -> Iterator[dict[str, Any]]:
    """Each MOCK operation of an OpenAPI definition, as the PutIntegration, PutMethodResponse and
    PutIntegrationResponse calls that rebuild it (intrinsics resolved with ``parameters``)."""
    for path, operations in definition.get("paths", {}).items():
        for method, operation in operations.items():
            integration = operation.get("x-amazon-apigateway-integration", {}) if method in _HTTP_METHODS else {}
            if str(integration.get("type", "")).lower() != "mock":
                continue
            for response in integration.get("responses", {}).values():
                headers = {k: _resolve(v, parameters) for k, v in response.get("responseParameters", {}).items()}
                yield {
                    "path": path,
                    "httpMethod": method.upper(),
                    "requestTemplates": dict(integration.get("requestTemplates", {})),
                    "statusCode": str(response["statusCode"]),
                    "responseParameters": headers,
                    "responseTemplates": dict(response.get("responseTemplates", {})),
                }


def _api_definition(cloudformation: Any, stack_name: str) -> dict[str, Any]:
    processed = cloudformation.get_template(StackName=stack_name, TemplateStage="Processed")["TemplateBody"]
    template = processed if isinstance(processed, dict) else cfn_yaml.loads(processed)
    body: dict[str, Any] = template["Resources"][API]["Properties"]["Body"]
    return body


def main() -> None:
    stack = local_stack()
    cloudformation, apigateway = boto3.client("cloudformation"), boto3.client("apigateway")
    described = cloudformation.describe_stacks(StackName=stack.name)["Stacks"][0]
    parameters = {p["ParameterKey"]: p["ParameterValue"] for p in described.get("Parameters", [])}
    api_id, stage = stack.outputs["ApiId"], stack.outputs["ApiStage"]
    for response_type, response in gateway_responses(parameters).items():
        apigateway.put_gateway_response(restApiId=api_id, responseType=response_type, **response)
    resources = {r["path"]: r["id"] for r in apigateway.get_resources(restApiId=api_id, limit=500)["items"]}
    mocks = list(mock_integrations(_api_definition(cloudformation, stack.name), parameters))
    for mock in mocks:
        where = {"restApiId": api_id, "resourceId": resources[mock["path"]], "httpMethod": mock["httpMethod"]}
        apigateway.put_integration(**where, type="MOCK", requestTemplates=mock["requestTemplates"])
        apigateway.put_method_response(
            **where,
            statusCode=mock["statusCode"],
            responseParameters=dict.fromkeys(mock["responseParameters"], False),
        )
        apigateway.put_integration_response(
            **where,
            statusCode=mock["statusCode"],
            selectionPattern="",
            responseParameters=mock["responseParameters"],
            responseTemplates=mock["responseTemplates"],
        )
    apigateway.create_deployment(restApiId=api_id, stageName=stage, description="what the engine's import dropped")
    print(f"applied the template's gateway responses and {len(mocks)} MOCK integrations to {api_id}/{stage}")


if __name__ == "__main__":
    main()

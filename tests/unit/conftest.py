"""Unit tests: no network (sockets disabled), AWS mocked in-process by moto."""

import importlib.util
import logging
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from types import ModuleType, SimpleNamespace
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests import template
from tests.template import physical_name

REGION = "us-east-1"


@pytest.fixture(autouse=True)
def _offline_aws(socket_disabled: None, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every unit test runs with fake credentials and no way out to a real endpoint."""
    for name in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)


@pytest.fixture(autouse=True)
def _fresh_loggers() -> Iterator[None]:
    """Powertools configures a service's logger once per process; a test's cold start must get
    a fresh one writing to that test's stdout."""
    yield
    names = [
        "image-pipeline",
        *(n for n in logging.root.manager.loggerDict if n.startswith("image_pipeline")),
    ]
    for name in names:
        configured = logging.getLogger(name)
        configured.handlers.clear()
        for attribute in ("init", "powertools_handler"):
            configured.__dict__.pop(attribute, None)


@dataclass
class LambdaContext:
    function_name: str = "test-function"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = f"arn:aws:lambda:{REGION}:123456789012:function:test-function"
    aws_request_id: str = "52fdfc07-2182-154f-163f-5f0f9a621d72"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


def _create_from_template(logical_id: str, resource: dict[str, Any]) -> None:
    """Create the resource moto needs, with the schema the template gives it."""
    properties = resource.get("Properties", {})
    name = physical_name(logical_id)
    if resource["Type"] == "AWS::S3::Bucket":
        boto3.client("s3").create_bucket(Bucket=name)
    elif resource["Type"] == "AWS::DynamoDB::Table":
        extra = {}
        if "GlobalSecondaryIndexes" in properties:
            extra["GlobalSecondaryIndexes"] = properties["GlobalSecondaryIndexes"]
        boto3.client("dynamodb").create_table(
            TableName=name,
            AttributeDefinitions=properties["AttributeDefinitions"],
            KeySchema=properties["KeySchema"],
            BillingMode=properties["BillingMode"],
            **extra,
        )
    elif resource["Type"] == "AWS::Events::EventBus":
        boto3.client("events").create_event_bus(Name=name)


@pytest.fixture
def aws() -> Iterator[SimpleNamespace]:
    """moto, with the buckets, tables and buses of the app and of the push beside it (one account)
    created under their test names."""
    with mock_aws():
        kinds = ("AWS::S3::Bucket", "AWS::DynamoDB::Table", "AWS::Events::EventBus")
        names = {}
        for path in (template.APP, template.PUSH):
            for logical_id, resource in template.load(path)["Resources"].items():
                if resource["Type"] in kinds:
                    _create_from_template(logical_id, resource)
                    names[logical_id] = physical_name(logical_id)
        yield SimpleNamespace(**names)


@pytest.fixture
def load_handler(monkeypatch: pytest.MonkeyPatch) -> Callable[..., ModuleType]:
    """Import a function's handler module as Lambda would: from its CodeUri and Handler, with
    the environment its template (the one that defines it) gives it (plus ``overrides``). Each call is a new cold start.

    Its logger writes to the stdout of the moment: load it in the test (not in a fixture's
    setup) when the test reads its log lines with ``capsys``."""

    def load(logical_id: str, template_path: str | None = None, **overrides: str) -> ModuleType:
        template_path = template_path or template.defining(logical_id)
        environment = template.function_environment(logical_id, template_path)
        for name, value in {**environment, **overrides}.items():
            monkeypatch.setenv(name, value)
        path, _ = template.handler_path(logical_id, template_path)
        module_name = f"handlers_{logical_id}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        monkeypatch.setitem(sys.modules, module_name, module)
        spec.loader.exec_module(module)
        return module

    return load

"""The end-to-end suite: black-box journeys through the public API and the bucket only.

It runs against the stack named by ``AWS_SAM_STACK_NAME`` (in ``AWS_REGION``) when that is set,
as the delivery pipeline does against staging, and otherwise against the local stack the
integration suite deploys (tests/conftest.py: one deployment per session).
"""

import os

import pytest

from tools.client import PipelineClient
from tools.stack import Stack


@pytest.fixture(scope="session")
def target(request: pytest.FixtureRequest) -> Stack:
    name = os.environ.get("AWS_SAM_STACK_NAME")
    if name:
        return Stack(name)  # on AWS: credentials and region from the environment
    stack: Stack = request.getfixturevalue("stack")
    return stack


@pytest.fixture(scope="session")
def api(target: Stack) -> PipelineClient:
    return PipelineClient(target.api_url, target.api_key)

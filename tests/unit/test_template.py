"""template.yaml is the single source of truth: these hold the code and the wiring to it."""

from collections.abc import Callable
from types import ModuleType

import pytest

from image_pipeline import catalogue
from image_pipeline.settings import ImagingSettings, Settings
from tests import template

# Variables Powertools reads by itself (not the function's settings).
POWERTOOLS_VARIABLES = {"POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL"}
# The app's functions and the push's beside it (the hub's: test_hub_templates.py).
FUNCTIONS = [(path, f) for path in (template.APP, template.PUSH) for f in template.function_ids(path)]


@pytest.mark.parametrize(("path", "logical_id"), FUNCTIONS)
def test_environment_matches_the_functions_settings_model(
    path: str, logical_id: str, load_handler: Callable[..., ModuleType], aws: object
) -> None:
    # Given the function as Lambda would start it, with the template's environment
    module = load_handler(logical_id, path)
    settings = module.settings
    # Then its settings model reads exactly the variables the template sets, no more, no less
    assert isinstance(settings, Settings)
    variables = set(template.function_environment(logical_id, path)) - POWERTOOLS_VARIABLES
    assert variables == type(settings).variable_names()


def test_environment_values_are_strings_as_cloudformation_passes_them() -> None:
    # A bare number in YAML reaches the local engine as an int and breaks the function's start.
    for path, logical_id in FUNCTIONS:
        for name, value in template.function_properties(logical_id, path)["Environment"]["Variables"].items():
            assert isinstance(value, (str, dict)), f"{logical_id}.{name}: quote {value!r}"


@pytest.mark.parametrize(("path", "logical_id"), FUNCTIONS)
def test_every_function_runs_python313_with_the_shared_layer_and_pillow_exactly_where_it_decodes(
    path: str, logical_id: str, load_handler: Callable[..., ModuleType], aws: object
) -> None:
    properties = template.function_properties(logical_id, path)
    assert properties["Runtime"] == "python3.13"
    timeout = properties["Timeout"]  # a number, or one per place: {"Fn::If": [OnAws, aws, local]}
    assert all(t > 0 for t in (timeout["Fn::If"][1:] if isinstance(timeout, dict) else [timeout])), logical_id
    assert properties["MemorySize"] >= 128
    assert {"Ref": "SharedLayer"} in properties["Layers"]
    # a function that decodes images reads the decoding limits; only it pays for the Pillow layer
    decodes = isinstance(load_handler(logical_id, path).settings, ImagingSettings)
    assert ({"Ref": "PillowLayer"} in properties["Layers"]) == decodes, logical_id


def test_a_queued_job_takes_one_image_per_invocation_with_a_bounded_concurrency() -> None:
    # (every queue's visibility, redrive and partial failures: tests/unit/test_invariants.py)
    for job in (j for j in catalogue.JOBS if j.queued):
        (source,) = [e["Properties"] for e in template.function_properties(job.function)["Events"].values()]
        # one image per invocation: a slow image's timeout never counts a receive against a neighbour
        assert source["BatchSize"] == 1
        assert source["ScalingConfig"]["MaximumConcurrency"] >= 2


def test_the_bucket_is_private_encrypted_and_announces_uploads_to_eventbridge() -> None:
    # (TLS only and retention, for every bucket: tests/unit/test_invariants.py)
    bucket = template.resources("AWS::S3::Bucket")["ImagesBucket"]["Properties"]
    assert all(bucket["PublicAccessBlockConfiguration"].values())
    assert len(bucket["PublicAccessBlockConfiguration"]) == 4
    assert bucket["NotificationConfiguration"]["EventBridgeConfiguration"]["EventBridgeEnabled"] is True
    assert bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"]


def test_the_api_needs_a_key_and_is_throttled() -> None:
    api = template.resources("AWS::Serverless::Api")["ImagesApi"]["Properties"]
    assert api["Auth"]["ApiKeyRequired"] is True
    assert api["Auth"]["UsagePlan"]["Throttle"]["RateLimit"] > 0
    assert all(s["ThrottlingRateLimit"] > 0 for s in api["MethodSettings"])


# Issue 16's budget: template.yaml is read, and copied, by whoever extends the pipeline.
TEMPLATE_LINE_BUDGET = 1100


def test_template_yaml_stays_within_its_line_budget() -> None:
    # Given template.yaml as its reader opens it
    lines = (template.ROOT / template.APP).read_text().splitlines()
    # Then it stays within its budget: a block repeated per function or queue belongs in an
    # Fn::ForEach loop, not in another copy
    assert len(lines) <= TEMPLATE_LINE_BUDGET, (
        f"template.yaml has {len(lines)} lines, over its budget of {TEMPLATE_LINE_BUDGET} (issue 16): people "
        "read it to extend it, so it says each thing once. Put a block repeated per function or queue in an "
        "Fn::ForEach loop (see FunctionsWatched, DeadLettersWatched, PublishOwnEvents) and short lists of "
        "scalars in flow style; raise the budget only with a reason."
    )

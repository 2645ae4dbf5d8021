"""The images bucket loses no original: any S3 client may upload again to a key, and the upload it
replaces is kept (a noncurrent version) for RetentionDays, the time every upload, output and record
is kept (0: forever). What the template's lifecycle rules mean is evaluated here, for each retention,
rather than restated."""

from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests import template

BUCKET = template.load()["Resources"]["ImagesBucket"]


def _resolved(value: Any, retention: int) -> Any:
    """``value`` with the stack's conditions and RetentionDays resolved for ``retention``."""
    if isinstance(value, list):
        return [_resolved(v, retention) for v in value]
    if not isinstance(value, dict):
        return value
    if "Fn::If" in value:
        condition, when_true, when_false = value["Fn::If"]
        assert condition == "KeepForever", condition  # the one condition these rules use
        return _resolved(when_true if retention == 0 else when_false, retention)
    if value == {"Ref": "RetentionDays"}:
        return retention
    return {k: _resolved(v, retention) for k, v in value.items()}


def _rules(retention: int) -> list[dict[str, Any]]:
    return list(_resolved(BUCKET["Properties"]["LifecycleConfiguration"]["Rules"], retention))


def _days_kept(retention: int, key: str, *, noncurrent: bool) -> int | None:
    """Days S3 keeps an object under ``key`` (current, or a replaced noncurrent version) before a
    rule expires it; None: no rule ever does."""
    days = [
        rule["NoncurrentVersionExpiration"]["NoncurrentDays"] if noncurrent else rule["ExpirationInDays"]
        for rule in _rules(retention)
        if rule["Status"] == "Enabled"
        and key.startswith(rule.get("Prefix", ""))
        and ("NoncurrentVersionExpiration" if noncurrent else "ExpirationInDays") in rule
    ]
    return min(days, default=None)


@pytest.mark.parametrize("retention", [0, 1, 2, 30])
@pytest.mark.parametrize("key", ["uploads/IMG 0001.jpg", "outputs/3f9a/0A1B/thumbnail.jpg"])
def test_a_replaced_original_is_kept_as_long_as_everything_else(retention: int, key: str) -> None:
    # Given RetentionDays (0: keep forever; 1: the shortest; 2, 30: longer)
    kept = None if retention == 0 else retention
    # Then the current object, and the version an overwrite replaced, are each kept that long
    assert _days_kept(retention, key, noncurrent=False) == kept
    assert _days_kept(retention, key, noncurrent=True) == kept


@pytest.mark.parametrize("retention", [0, 30])
def test_the_edit_workflows_work_area_goes_after_a_day_whatever_the_retention(retention: int) -> None:
    assert _days_kept(retention, "edits/abc/crop.png", noncurrent=False) == 1
    assert _days_kept(retention, "edits/abc/crop.png", noncurrent=True) == 1


def test_an_expiry_leaves_no_delete_marker_behind() -> None:
    assert any(r["Status"] == "Enabled" and r.get("ExpiredObjectDeleteMarker") is True for r in _rules(30))


def test_an_upload_to_the_same_key_keeps_the_original_it_replaces() -> None:
    with mock_aws():
        s3 = boto3.client("s3")
        s3.create_bucket(Bucket="images")
        # Given the bucket as the template configures its versioning
        versioning = BUCKET["Properties"]["VersioningConfiguration"]
        s3.put_bucket_versioning(Bucket="images", VersioningConfiguration=versioning)
        # When a client uploads twice to one key (the README invites `aws s3 cp` to any key)
        first = s3.put_object(Bucket="images", Key="uploads/holiday.jpg", Body=b"the original")
        s3.put_object(Bucket="images", Key="uploads/holiday.jpg", Body=b"a second picture")
        # Then the key serves the second, and the original is still there, by its version
        assert s3.get_object(Bucket="images", Key="uploads/holiday.jpg")["Body"].read() == b"a second picture"
        versions = s3.list_object_versions(Bucket="images", Prefix="uploads/holiday.jpg")["Versions"]
        assert len(versions) == 2
        original = s3.get_object(Bucket="images", Key="uploads/holiday.jpg", VersionId=first["VersionId"])
        assert original["Body"].read() == b"the original"

"""Specs are versioned by content: any change to what a job makes gives another version, nothing
else does; and the versions (plain data) are readable without Pillow, by the API too."""

import subprocess
import sys
from dataclasses import replace
from typing import Any

import pytest

from image_pipeline import catalogue, contracts
from image_pipeline.imaging import ImageLimits, specs
from image_pipeline.imaging.filters import FILTERS
from image_pipeline.imaging.specs import (
    JOB_SPECS,
    PREVIEWS,
    SPEC_VERSIONS,
    WEB_RENDITIONS,
    CropSpec,
    RenditionSpec,
    spec_version,
)
from image_pipeline.processing import OPERATIONS, Source
from tests import samples
from tests.template import ROOT
from tests.unit.imaging.samples import encode, photo

RENDITIONS = JOB_SPECS["renditions"]


def test_the_same_specs_have_the_same_version_however_they_are_built_or_ordered() -> None:
    rebuilt = tuple(replace(spec) for spec in RENDITIONS)
    assert spec_version(rebuilt) == spec_version(RENDITIONS) == SPEC_VERSIONS["renditions"]
    assert spec_version(tuple(reversed(RENDITIONS))) == spec_version(RENDITIONS)


@pytest.mark.parametrize(
    "change",
    [
        {"max_side": 1025},  # one pixel more
        {"max_side": 1023},  # one pixel less
        {"format": "AVIF"},
        {"name": "w1024-jpg"},
        {"filter": "sepia"},
        {"crop": CropSpec("centre", aspect=(1, 1))},
    ],
    ids=lambda change: next(iter(change)),
)
def test_any_change_to_one_spec_is_another_version(change: dict[str, Any]) -> None:
    first, *rest = RENDITIONS
    assert spec_version((replace(first, **change), *rest)) != spec_version(RENDITIONS)


@pytest.mark.parametrize(
    "crop",
    [CropSpec("content", aspect=(1, 1)), CropSpec("centre", aspect=(1, 1)), CropSpec("content", aspect=(4, 3))],
)
def test_a_change_inside_a_crop_is_another_version(crop: CropSpec) -> None:
    square = next(s for s in PREVIEWS if s.crop is not None)
    versions = {spec_version((replace(square, crop=c),)) for c in (square.crop, crop)}
    assert len(versions) == (1 if crop == square.crop else 2)


def test_a_spec_added_or_removed_is_another_version() -> None:
    assert spec_version((*RENDITIONS, RenditionSpec("w1600-jpeg", 1600, "JPEG"))) != spec_version(RENDITIONS)
    assert spec_version(RENDITIONS[1:]) != spec_version(RENDITIONS)


def test_the_rendering_revision_versions_what_the_specs_cannot_say(monkeypatch: pytest.MonkeyPatch) -> None:
    before = spec_version(RENDITIONS)
    monkeypatch.setattr(specs, "RENDERING_REVISION", specs.RENDERING_REVISION + 1)
    assert spec_version(RENDITIONS) != before


@pytest.mark.parametrize("job", sorted(SPEC_VERSIONS))
def test_a_version_is_what_the_answers_schema_takes(job: str) -> None:
    response = catalogue.job(job).response
    contracts.validate(response.value, samples.event(response, specVersion=SPEC_VERSIONS[job]).detail())
    with pytest.raises(contracts.ContractViolation, match="specVersion"):
        contracts.validate(response.value, samples.event(response, specVersion="not-a-version").detail())


def test_each_versioned_job_makes_exactly_its_versioned_specs() -> None:
    assert set(JOB_SPECS) <= set(catalogue.job_names())
    data = encode(photo((640, 480)), "JPEG")
    for job, made_to in JOB_SPECS.items():
        made = OPERATIONS[job](Source(data), ImageLimits())
        assert [r.name for r in made.renditions] == [s.name for s in made_to], job
    assert JOB_SPECS["renditions"] == (*WEB_RENDITIONS, *PREVIEWS)


def test_a_spec_names_only_the_filters_the_engine_has() -> None:
    assert specs.FILTER_NAMES == FILTERS
    with pytest.raises(ValueError, match="unknown filter"):
        RenditionSpec("x", 10, "JPEG", filter="posterize")


@pytest.mark.parametrize("module", ["image_pipeline.imaging", "image_pipeline.image_api", "image_pipeline.aws.rest"])
def test_the_spec_versions_and_the_api_load_no_pillow(module: str) -> None:
    code = f"import sys, {module}; sys.exit('PIL' in sys.modules)"
    ran = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env={"PYTHONPATH": str(ROOT / "layers/shared")}, check=False
    )
    assert ran.returncode == 0, f"importing {module} loads Pillow"

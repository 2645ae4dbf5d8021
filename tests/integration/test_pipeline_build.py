"""The delivery pipeline's build step, as its workflow runs it: `make pipeline-build` makes the
stack's arm64 build on this machine with no Docker, native wheels included."""

import os
import subprocess
from pathlib import Path

import pytest

from tests.template import ROOT, function_ids

ELF_MACHINE_AARCH64 = 183  # e_machine in the ELF header


def _elf_machine(path: Path) -> int:
    header = path.read_bytes()[:20]
    assert header[:4] == b"\x7fELF", path
    return int.from_bytes(header[18:20], "little")


@pytest.mark.slow
def test_make_pipeline_build_makes_the_arm64_build_without_docker(tmp_path: Path) -> None:
    build_dir = tmp_path / "build"
    env = {**os.environ, "DOCKER_HOST": "unix:///nonexistent.sock"}  # proves no container is used
    built = subprocess.run(
        ["make", "-s", "pipeline-build", f"BUILD_DIR={build_dir}", "ARCHITECTURE=arm64"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stdout[-3000:] + built.stderr[-3000:]
    assert (build_dir / "template.yaml").exists()
    for function in function_ids():
        assert (build_dir / function / "handler.py").exists(), function
    native = sorted((build_dir / "PillowLayer" / "python").rglob("*.so"))
    assert native
    assert {_elf_machine(library) for library in native} == {ELF_MACHINE_AARCH64}
    assert (build_dir / "SharedLayer" / "python" / "aws_xray_sdk").is_dir()  # the tracer's SDK ships

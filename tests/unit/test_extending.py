"""The README's "Extending" walkthroughs, done for real: the new job's change and the new consumer's
template are taken verbatim from README.md, applied to a temporary copy of the project, and the
copy is linted and runs the tests that hold the templates to the catalogue. The README's counts of
files and template lines are measured here, so they cannot rot either."""

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.template import ROOT

README = ROOT / "README.md"
# What a copy runs: the graph against the catalogue, the templates' guarantees, the contracts of
# every job's answers (each job's operation runs for real), the functions' settings, the wiring.
SUITES = (
    "tests/unit/test_event_graph.py",
    "tests/unit/test_invariants.py",
    "tests/unit/test_contracts.py",
    "tests/unit/test_template.py",
    "tests/unit/test_hub_wiring.py",
    "tests/unit/test_hub_templates.py",
)
MAX_JOB_FILES, MAX_JOB_TEMPLATE_LINES = 5, 30


def _section(heading: str) -> str:
    text = README.read_text()
    start = text.index(f"### {heading}\n")
    end = text.find("\n## ", start)
    return text[start:end]


def _block(section: str, language: str) -> str:
    (block,) = re.findall(rf"```{language}\n(.*?)```", section, re.DOTALL)
    return str(block)


def _copy(target: Path) -> Path:
    """The project as a new user's clone has it (tracked and new files, no build output)."""
    listed = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    for name in listed:
        source = ROOT / name
        if source.is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / name)
    (target / ".venv-sam").symlink_to(ROOT / ".venv-sam")  # the SAM translator, for the expansions
    return target


def _run(command: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)


@pytest.mark.slow
def test_a_new_job_and_a_new_consumer_take_what_the_readme_says_and_pass_every_check(tmp_path: Path) -> None:
    copy = _copy(tmp_path / "project")
    job, consumer = _section("A new job"), _section("A new consumer")
    # Given the new job's change, as the README shows it
    change = tmp_path / "job.diff"
    change.write_text(_block(job, "diff"))
    numstat = _run(["git", "apply", "--numstat", str(change)], copy)
    assert numstat.returncode == 0, numstat.stderr
    counts = {line.split("\t")[2]: int(line.split("\t")[0]) for line in numstat.stdout.splitlines()}
    # Then it touches at most 5 files and 30 lines of template.yaml, the very numbers the README gives
    assert len(counts) <= MAX_JOB_FILES
    assert counts["template.yaml"] <= MAX_JOB_TEMPLATE_LINES
    assert f"**{len(counts)} files**" in job
    assert f"**{counts['template.yaml']} lines of template.yaml**" in job
    applied = _run(["git", "apply", "--recount", str(change)], copy)
    assert applied.returncode == 0, f"the README's job no longer applies: {applied.stderr}"
    # and the README's event table, regenerated as the README says, gains the new row
    table = _run(["env", "PYTHONPATH=layers/shared", sys.executable, "-m", "tools.schemas", "table"], copy)
    assert table.returncode == 0, table.stderr
    readme = (copy / "README.md").read_text()
    old = re.search(r"\| Event \(detail-type\) \|.*?\n(?!\|)", readme, re.DOTALL)
    assert old is not None
    (copy / "README.md").write_text(readme.replace(old.group(0), table.stdout))
    # Given the new consumer: its folder, and nothing else
    (copy / "consumers/rejections").mkdir(parents=True)
    (copy / "consumers/rejections/template.yaml").write_text(_block(consumer, "yaml"))
    assert "**1 file**" in consumer
    # Then the templates lint clean and every check of the graph, the guarantees and the wiring passes
    templates = [
        "template.yaml",
        "hub/template.yaml",
        *sorted(str(p.relative_to(copy)) for p in copy.glob("consumers/*/template.yaml")),
    ]
    linted = _run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--append-rules",
            "cfn_lint_serverless.rules",
            "--",
            *templates,
        ],
        copy,
    )
    assert linted.returncode == 0, linted.stdout[-3000:]
    checked = _run([sys.executable, "-m", "pytest", *SUITES, "-q", "-p", "no:cacheprovider"], copy)
    assert checked.returncode == 0, checked.stdout[-5000:]
    assert "placeholder" in checked.stdout or "passed" in checked.stdout

"""`make run`'s report and terminal summary are written for people: a final image's unanswered jobs
are "not awaited" (only an open image has "missing" responses), and every value reads as words and
numbers, never as a Python or JSON literal."""

import re
from html.parser import HTMLParser
from typing import Any

import pytest

from image_pipeline.hub.aggregates import DailyStats
from tools.hub import describe_stats
from tools.report import human, human_bytes, render_report
from tools.run import Result, print_hub

EXPECTED = ["ImageAnalyzed", "RenditionsCreated", "ThumbnailCreated"]
# Python and JSON literals a person should never have to read
LITERALS = re.compile(r"\{['\"]|['\"]\}|\[['\"]|\bTrue\b|\bFalse\b|\bNone\b|\bnull\b|\btrue\b|\bfalse\b")


def _trace_event(kind: str, offset: int) -> dict[str, Any]:
    return {"type": kind, "source": "test", "offsetMs": offset, "latencyMs": offset, "answers": None}


def _result(status: str, arrived: list[str], missing: list[str]) -> dict[str, Any]:
    """One image of results.json, as `make run` writes it from GET /images/{id} and its trace."""
    result = Result(file=f"{status.lower()}.jpg", image_id="3f9a2c1e5b7d4e8f9a0b1c2d3e4f5a6b", status=status)
    result.image = {"outputs": {}, "analysis": {"format": "PNG", "hasAlpha": True, "animated": False}}
    result.trace = {
        "events": [_trace_event(kind, 100 * i) for i, kind in enumerate(["ImageUploaded", *arrived])],
        "expected": {"ImageUploaded": EXPECTED, "EditRequested": ["EditCompleted"]},
        "missing": missing,
    }
    return result.to_dict()


class _Rows(HTMLParser):
    """The timeline's rows: (css class of the label, the label, what the row says)."""

    def __init__(self) -> None:
        super().__init__()
        self.spans: list[tuple[str, str]] = []
        self._css: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._css = dict(attrs).get("class") or "" if tag == "span" else None

    def handle_data(self, data: str) -> None:
        if self._css is not None:
            self.spans.append((self._css, data))
            self._css = None

    def rows(self) -> dict[str, tuple[str, str]]:
        """Each unanswered response -> (css class, what its row says)."""
        pairs = zip(self.spans, self.spans[1:], strict=False)
        return {name: (css, said) for (css, name), (_, said) in pairs if said in {"missing", "not awaited"}}


def _timeline(result: dict[str, Any]) -> dict[str, tuple[str, str]]:
    parser = _Rows()
    parser.feed(render_report([result], "http://127.0.0.1:4566/_aws/execute-api/x/v1"))
    return parser.rows()


@pytest.mark.parametrize("status", ["REJECTED", "FAILED"])
def test_a_final_images_unanswered_jobs_are_not_awaited_not_missing(status: str) -> None:
    # Given an image closed after its thumbnail, before its other two responses (GET says none missing)
    result = _result(status, arrived=["ThumbnailCreated", "ImageRejected"], missing=[])
    # Then the report lists the two that never came as not awaited, in grey, and nothing as missing
    assert _timeline(result) == {
        "ImageAnalyzed": ("unawaited", "not awaited"),
        "RenditionsCreated": ("unawaited", "not awaited"),
    }


@pytest.mark.parametrize("status", ["PROCESSING", "STALLED"])
def test_an_open_images_due_responses_are_missing(status: str) -> None:
    result = _result(status, arrived=["ThumbnailCreated"], missing=["ImageAnalyzed", "RenditionsCreated"])
    assert _timeline(result) == {
        "ImageAnalyzed": ("missing", "missing"),
        "RenditionsCreated": ("missing", "missing"),
    }


def test_a_complete_image_lists_nothing_unanswered() -> None:
    assert _timeline(_result("COMPLETE", arrived=EXPECTED, missing=[])) == {}


HUB: dict[str, Any] = {
    "quarantine": {"forThisRun": []},
    "aggregates": {
        "date": "2026-12-04",
        "readThrough": "graphql",
        "expected": {"COMPLETE": 4, "REJECTED": 1},
        "addedByThisRun": {
            "images": {"COMPLETE": 4, "REJECTED": 1},
            "events": {"ImageUploaded": 5, "ThumbnailCreated": 5},
            "rejects": {"truncated": 1},
        },
        "matches": True,
        "day": {
            "date": "2026-12-04",
            "images": {"COMPLETE": 4, "REJECTED": 1},
            "events": {"ImageUploaded": 5},
            "rejects": {},
            "formats": {"JPEG": 2, "PNG": 1},
            "bytesIn": 713240,
            "bytesOut": 2334157,
            "latencyP50Ms": 2000,
            "latencyP95Ms": 10000,
        },
    },
    "archive": {
        "query": "consumers/history/queries/image_status.sql",
        "rows": [{"image_id": "3f9a", "status": "COMPLETE", "events": "5"}],
        "matches": False,
        "imagesByStatus": [],
        "latencyPercentiles": [{"day": "2026-12-04", "images": "5", "p50_ms": "2034", "p95_ms": "19609"}],
    },
}


def _text(html: str) -> str:
    return re.sub(r"<style>.*?</style>|<[^>]+>", " ", html, flags=re.DOTALL)


def test_the_report_shows_counts_flags_and_sizes_as_words_and_numbers() -> None:
    result = _result("COMPLETE", arrived=EXPECTED, missing=[])
    text = _text(render_report([result], "http://x", hub=HUB))
    assert not LITERALS.findall(text), LITERALS.findall(text)
    assert "COMPLETE: 4, REJECTED: 1" in text
    assert "none" in text  # the day's rejects: an empty count
    assert "696.5 KB / 2.2 MB" in text
    assert "hasAlpha yes" in " ".join(text.split())  # the analysis's flags


def test_the_terminal_summary_shows_counts_as_words_and_numbers(capsys: pytest.CaptureFixture[str]) -> None:
    print_hub(HUB)
    out = capsys.readouterr().out
    assert not LITERALS.findall(out), out
    assert "this run added images (COMPLETE: 4, REJECTED: 1; matches the run)" in out
    assert "rejects (none)" in out
    assert "696.5 KB in, 2.2 MB out" in out


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ({"COMPLETE": 4}, "COMPLETE: 4"),
        ({}, "none"),
        ([], "none"),
        (True, "yes"),
        (False, "no"),
        (None, "-"),
        (0.74612, "0.746"),
        ({"exif": {"hasLocation": False}}, "exif: hasLocation: no"),
        (["a", 1], "a, 1"),
    ],
)
def test_human_writes_each_kind_of_value_for_people(value: Any, shown: str) -> None:
    assert human(value) == shown


@pytest.mark.parametrize(
    ("count", "shown"),
    [(1023, "1023 bytes"), (1024, "1.0 KB"), (1024 * 1024 - 1, "1024.0 KB"), (1024 * 1024, "1.0 MB")],
)
def test_sizes_change_unit_at_each_kibi_boundary(count: int, shown: str) -> None:
    assert human_bytes(count) == shown


def test_make_stats_shows_the_days_aggregates_as_words_and_numbers() -> None:
    counters = {"images.COMPLETE": 4, "images.REJECTED": 1, "formats.JPEG": 3, "bytesIn": 2048, "latency.le_2000": 5}
    shown = describe_stats(DailyStats.from_counters("2026-12-04", counters), "the API")
    assert not LITERALS.findall(shown), shown
    assert shown.splitlines() == [
        "Aggregates for 2026-12-04, read through the API:",
        "  images    COMPLETE: 4, REJECTED: 1",
        "  events    none",
        "  rejects   none",
        "  formats   JPEG: 3",
        "  in / out  2.0 KB / 0 bytes",
        "  latency   p50 <= 2000 ms, p95 <= 2000 ms (upload to final status)",
    ]

"""`make run`: send images through the deployed local stack the way a client would.

POST /images -> presigned upload -> poll GET /images/{id} until final -> GET .../trace, then a
result table; then what the event hub made of them: the aggregates this run added (the aggregates consumer's
GraphQL API) and the run's images in the archive (an Athena query, the history consumer). Writes
out/results.json (``images``, ``statuses``, ``aggregates``, ``archive``) and out/report.html.

    python -m tools.run --images events/images [--expect complete]
"""

import argparse
import json
import shutil
import sys
import threading
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.client import ApiError, PipelineClient, content_type_for
from tools.hub import RunCheck, local_consumers
from tools.report import render_report
from tools.stack import local_stack

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "out"
# Outputs copied next to the report: the thumbnail, the previews, and each format at 1024 px.
SHOWN_OUTPUTS = ("thumbnail", "crop-", "filter-", "w1024-")
# Final with a reason: processed, rejected by a job, or refused before it became an image (REFUSED).
SETTLED = frozenset({"COMPLETE", "REJECTED", "REFUSED"})
# The edit `make run` asks of every processed image (POST /images/{id}/edits, the EditWorkflow).
EDIT = {"operations": [{"crop": {"aspect": "1:1"}}, {"filter": "sepia"}, {"resize": {"width": 400}}], "format": "webp"}


@dataclass
class Result:
    file: str
    image_id: str | None = None
    status: str = "PENDING"
    reason: str | None = None
    timings: dict[str, int] = field(default_factory=dict)
    image: dict[str, Any] = field(default_factory=dict)
    trace: dict[str, Any] = field(default_factory=dict)
    assets: dict[str, str] = field(default_factory=dict)  # output name -> path relative to out/
    edit: dict[str, Any] = field(default_factory=dict)  # GET /images/{id}/edits/{editId}, once settled

    def to_dict(self) -> dict[str, Any]:
        return {
            "imageId": self.image_id,
            "file": self.file,
            "status": self.status,
            "reason": self.reason,
            "timings": self.timings,
            "outputs": {
                name: {k: v for k, v in output.items() if k != "url"}
                for name, output in self.image.get("outputs", {}).items()
            },
            "analysis": self.image.get("analysis"),
            "recognition": self.image.get("recognition"),
            "trace": self.trace.get("events", []),
            "missing": self.trace.get("missing", []),
            "assets": self.assets,
            "edit": {k: v for k, v in self.edit.items() if k != "output"}
            | (
                {"output": {k: v for k, v in self.edit["output"].items() if k != "url"}}
                if self.edit.get("output")
                else {}
            ),
        }


def _without_url(output: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in output.items() if k != "url"}  # presigned: it expires


def _ms(since: float) -> int:
    return round((time.monotonic() - since) * 1000)


def _download_outputs(result: Result, assets_dir: Path) -> None:
    for name, output in result.image.get("outputs", {}).items():
        if not name.startswith(SHOWN_OUTPUTS) or not output.get("url"):  # no link: withheld by moderation
            continue
        target = assets_dir / f"{result.image_id}-{name}.{output['key'].rsplit('.', 1)[-1]}"
        with urllib.request.urlopen(output["url"], timeout=30) as response:
            target.write_bytes(response.read())
        result.assets[name] = str(target.relative_to(OUT))


def _edit(client: PipelineClient, result: Result, assets_dir: Path, timeout: float) -> None:
    """Ask the image for EDIT, wait for the workflow, keep its output next to the report."""
    image_id = str(result.image_id)
    accepted = client.request_edit(image_id, EDIT)
    started = time.monotonic()
    result.edit = client.wait_for_edit(image_id, accepted["editId"], timeout=timeout)
    result.timings["editMs"] = _ms(started)
    if output := result.edit.get("output"):
        target = assets_dir / f"{image_id}-edit.{output['key'].rsplit('.', 1)[-1]}"
        with urllib.request.urlopen(output["url"], timeout=30) as response:
            target.write_bytes(response.read())
        result.assets["edit"] = str(target.relative_to(OUT))


def process(client: PipelineClient, path: Path, assets_dir: Path, timeout: float) -> Result:
    result = Result(file=path.name)
    started = time.monotonic()
    try:
        content_type = content_type_for(path.name)
        created = client.create_image(path.name, content_type, size=path.stat().st_size)
        result.image_id = created["imageId"]
        result.timings["createMs"] = _ms(started)
        uploading = time.monotonic()
        client.upload(created, path.read_bytes(), path.name, content_type)
        result.timings["uploadMs"] = _ms(uploading)
        waiting = time.monotonic()
        result.image = client.wait_until_final(created["imageId"], timeout=timeout)
        result.timings["processingMs"] = _ms(waiting)
        result.status, result.reason = result.image["status"], result.image.get("reason")
        result.trace = client.get_trace(created["imageId"])
        latencies = [e["latencyMs"] for e in result.trace["events"] if e["latencyMs"] is not None]
        if latencies:
            result.timings["pipelineMs"] = max(latencies)  # upload -> last response, from the trace
        _download_outputs(result, assets_dir)
        if result.status == "COMPLETE":
            _edit(client, result, assets_dir, timeout)
    except ApiError as error:
        # Refused before it became an image: by the API (a type or a size the upload would refuse:
        # no image exists) or by S3's upload policy (the image waits for an upload that never came).
        result.status = "REFUSED" if error.status in {400, 403, 413} else "FAILED"
        body: dict[str, Any] = error.body if isinstance(error.body, dict) else {"message": str(error.body)[:300]}
        reasons = "; ".join(f"{e['field']}: {e['reason']}" for e in body.get("errors", [])) or body.get("message")
        by = "S3's upload policy" if "S3 refused" in str(reasons) else "the API"
        result.reason = f"refused by {by} ({error.status}): {reasons}"
    result.timings["totalMs"] = _ms(started)
    return result


class Progress:
    """One line, redrawn: how many images reached a final state."""

    def __init__(self, total: int) -> None:
        self.total, self.done, self._lock = total, 0, threading.Lock()
        self._tty = sys.stderr.isatty()
        self._draw()

    def _draw(self, last: str = "") -> None:
        width = 30
        filled = width * self.done // max(self.total, 1)
        line = f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} {last}"
        if self._tty:
            sys.stderr.write(f"\r\033[K{line[:100]}")
        elif last:
            sys.stderr.write(line + "\n")
        sys.stderr.flush()

    def advance(self, result: Result) -> None:
        with self._lock:
            self.done += 1
            self._draw(f"{result.file}: {result.status}")
            if self._tty and self.done == self.total:
                sys.stderr.write("\n")


def recognition_summary(recognition: dict[str, Any] | None) -> str:
    """One cell: the backend, moderation's verdict and score, the most confident labels."""
    if not recognition:
        return "-"
    moderation = recognition.get("moderation") or {}
    score = moderation.get("score")
    verdict = "FLAGGED" if moderation.get("flagged") else "passed" if score is not None else "unchecked"
    cell = f"{recognition.get('backend')} {verdict}" + (f" {score:.3f}" if score is not None else "")
    labels = recognition.get("labels") or (moderation.get("labels") if moderation.get("flagged") else None) or []
    return cell + "".join(f" {label['name']}" for label in labels[:3])


def print_table(results: list[Result]) -> None:
    rows = [("file", "status", "image id", "upload→done", "total", "outputs", "recognition", "edit", "reason")]
    for r in results:
        pipeline = r.timings.get("pipelineMs")
        outputs = r.image.get("outputs", {})
        withheld = sum(1 for o in outputs.values() if o.get("withheld"))
        rows.append(
            (
                r.file,
                r.status,
                r.image_id or "-",
                f"{pipeline} ms" if pipeline is not None else "-",
                f"{r.timings.get('totalMs', 0)} ms",
                f"{len(outputs)} ({withheld} withheld)" if withheld else str(len(outputs)),
                recognition_summary(r.image.get("recognition"))[:48],
                f"{r.edit['status']} {r.timings.get('editMs', 0)} ms" if r.edit else "-",
                (r.reason or r.edit.get("reason") or "")[:60],
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for index, row in enumerate(rows):
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
        if index == 0:
            print("  ".join("-" * width for width in widths))


def print_hub(checked: dict[str, Any]) -> None:
    aggregates, archive = checked["aggregates"], checked["archive"]
    day = aggregates["day"]
    print(f"\nEvent hub - aggregates for {aggregates['date']} (read through {aggregates['readThrough']}):")
    added = aggregates["addedByThisRun"]
    verdict = "matches the run" if aggregates["matches"] else f"expected {aggregates['expected']}"
    print(f"  this run added images {added['images']} ({verdict}), events {added['events']}")
    print(
        f"  the day so far: images {day['images']}, rejects {day['rejects']}, formats {day['formats']}, "
        f"{day['bytesIn']} bytes in, {day['bytesOut']} bytes out, latency p50 <= {day['latencyP50Ms']} ms, "
        f"p95 <= {day['latencyP95Ms']} ms"
    )
    print(f"  moderation (day): {day['moderation']}; top labels (day): {day['topLabels'] or 'none'}")
    quarantined = checked["quarantine"]["forThisRun"]
    print(f"  quarantined by the hub's validator: {len(quarantined)} event(s) of this run")
    verdict = "matches the run" if archive["matches"] else "does NOT match the run"
    print(f"Event hub - archive (Athena, {archive['query']}): {len(archive['rows'])} image(s), {verdict}")
    agree = "the API, the aggregates and the archive agree" if checked["agree"] else "they DISAGREE"
    print(f"One status per image ({agree}):")
    for row in checked["images"]:
        print(
            f"  {row['imageId']}  API {row['api']:<10} GraphQL {row['graphql'] or '-':<10} "
            f"Athena {row['archive'] or '-':<10} (version {row['version'] or '-'})"
        )
    for row in archive["latencyPercentiles"]:
        print(f"  {row['day']}: {row['images']} images, latency p50 {row['p50_ms']} ms, p95 {row['p95_ms']} ms")


def _image_files(folder: Path) -> list[Path]:
    """Every file of the folder but hidden ones and notes: the pipeline decides what is an image."""
    if not folder.is_dir():
        return []
    notes = {".md", ".txt", ".py", ".json"}
    return sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".") and p.suffix not in notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, default=ROOT / "events" / "images")
    parser.add_argument(
        "--expect",
        choices=["final", "complete"],
        default="final",
        help="exit 0 when every image is processed or rejected with a reason (default), or only when all complete",
    )
    parser.add_argument("--timeout", type=float, default=180, help="seconds to wait for each image")
    parser.add_argument("--workers", type=int, default=2, help="images in flight at once")
    args = parser.parse_args()

    files = _image_files(args.images)
    if not files:
        sys.exit(f"no images found in {args.images}")

    stack = local_stack()
    client = PipelineClient(stack.api_url, stack.api_key)
    assets_dir = OUT / "assets"
    shutil.rmtree(assets_dir, ignore_errors=True)
    assets_dir.mkdir(parents=True)

    hub = RunCheck.start(*local_consumers())
    print(f"Sending {len(files)} image(s) from {args.images} through {stack.api_url}", file=sys.stderr)
    progress = Progress(len(files))
    results: list[Result] = []
    # The first image goes alone: the local engine starts a worker (unpacking its layers) for every
    # concurrent call, so one cold start per function, then warm workers, is the fastest start.
    results.append(process(client, files[0], assets_dir, args.timeout))
    progress.advance(results[-1])
    with ThreadPoolExecutor(max_workers=args.workers) as pool:
        futures = [pool.submit(process, client, path, assets_dir, args.timeout) for path in files[1:]]
        for future in as_completed(futures):
            results.append(future.result())
            progress.advance(results[-1])
    results.sort(key=lambda r: r.file)

    print_table(results)
    # The hub accounts for every image the API has: not for a file refused before it became one
    checked = hub.finish({r.image_id: r.status for r in results if r.image_id and r.image})
    print_hub(checked)
    images = [r.to_dict() for r in results]
    # the hub's per-image check has its own key: under "images" it would replace the run's results
    hub_check = {**checked, "statuses": checked["images"]}
    (OUT / "results.json").write_text(json.dumps({**hub_check, "images": images}, indent=2) + "\n")
    (OUT / "report.html").write_text(render_report(images, stack.api_url, hub=checked))
    print(f"\nWrote {OUT.relative_to(ROOT)}/results.json and {OUT.relative_to(ROOT)}/report.html")

    # Done right means processed, or rejected with a reason; FAILED/STALLED/still running is not.
    unsettled = [r for r in results if r.status not in SETTLED]
    incomplete = [r for r in results if r.status != "COMPLETE"]
    if unsettled:
        listed = ", ".join(f"{r.file} ({r.status})" for r in unsettled)
        sys.exit(f"{len(unsettled)} image(s) were neither processed nor rejected with a reason: {listed}")
    if bad := checked["quarantine"]["forThisRun"]:
        sys.exit(f"the hub quarantined {len(bad)} event(s) of this run: {bad}")
    if not (checked["agree"] and checked["aggregates"]["matches"]):
        sys.exit("the event hub's aggregates or archive do not say what the API says of this run's images (see above)")
    if args.expect == "complete" and incomplete:
        sys.exit(f"{len(incomplete)} image(s) did not complete: {', '.join(r.file for r in incomplete)}")
    unedited = [r for r in results if r.status == "COMPLETE" and r.edit.get("status") != "COMPLETE"]
    if args.expect == "complete" and unedited:
        listed = ", ".join(f"{r.file} ({r.edit.get('status')}: {r.edit.get('reason')})" for r in unedited)
        sys.exit(f"{len(unedited)} edit(s) did not complete: {listed}")
    counts = {s: sum(r.status == s for r in results) for s in sorted({r.status for r in results})}
    print("Every image was processed or rejected with a reason: " + ", ".join(f"{n} {s}" for s, n in counts.items()))


if __name__ == "__main__":
    main()

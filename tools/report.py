"""The HTML report of a `make run`: one card per image with its outputs, analysis, recognition and
timeline."""

import json
from datetime import UTC, datetime
from html import escape
from typing import Any

STATUS_COLOURS = {
    "COMPLETE": "#1a7f37",
    "REJECTED": "#9a6700",
    "FAILED": "#cf222e",
    "STALLED": "#cf222e",
    "PROCESSING": "#0969da",
    "PENDING": "#57606a",
}
EVENT_COLOURS = {
    "UploadRequested": "#8c959f",
    "ImageUploaded": "#0969da",
    "ThumbnailCreated": "#1a7f37",
    "RenditionsCreated": "#2da44e",
    "ImageAnalyzed": "#8250df",
    "ImageRecognized": "#bf3989",
    "ImageRejected": "#9a6700",
    "ImageProcessingFailed": "#cf222e",
    "ImageProcessingStalled": "#cf222e",
}

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;background:#f6f8fa;color:#1f2328}
header{background:#24292f;color:#fff;padding:18px 28px}
header h1{margin:0;font-size:20px} header p{margin:4px 0 0;color:#d0d7de}
main{padding:20px 28px;display:grid;gap:18px}
.summary{display:flex;gap:10px;flex-wrap:wrap}
.pill{border-radius:999px;padding:2px 10px;color:#fff;font-weight:600;font-size:12px}
.card{background:#fff;border:1px solid #d0d7de;border-radius:8px;padding:16px;display:grid;
  grid-template-columns:260px 1fr;gap:18px}
.thumb{width:256px;height:256px;display:flex;align-items:center;justify-content:center;
  background:#f6f8fa;border-radius:6px}
.thumb.alpha,.previews .alpha{background:repeating-conic-gradient(#eee 0 25%,#fff 0 50%) 0 0/16px 16px}
.thumb img{max-width:256px;max-height:256px}
.thumb .none{color:#57606a;font-size:12px;padding:12px;text-align:center}
h2{margin:0 0 4px;font-size:16px;word-break:break-all} .muted{color:#57606a;font-size:12px}
.reason{background:#fff8c5;border:1px solid #d4a72c;border-radius:6px;padding:6px 10px;margin:8px 0}
.cols{display:grid;grid-template-columns:repeat(auto-fit,minmax(260px,1fr));gap:14px;margin-top:10px}
table{border-collapse:collapse;width:100%;font-size:12px} td,th{padding:3px 6px;border-bottom:1px solid #eaeef2;
  text-align:left;vertical-align:top} th{color:#57606a;font-weight:600}
.previews{display:flex;gap:10px;flex-wrap:wrap;margin-top:8px}
.previews figure{margin:0} .previews img{height:120px;border-radius:4px;border:1px solid #d0d7de}
.previews figcaption{font-size:11px;color:#57606a}
.swatch{display:inline-block;width:18px;height:18px;border-radius:3px;border:1px solid #0002;margin-right:3px;
  vertical-align:middle}
.wf{margin-top:10px} .wf .row{display:grid;grid-template-columns:170px 1fr 70px;align-items:center;gap:8px;
  font-size:12px;height:20px} .wf .track{position:relative;height:12px;background:#f6f8fa;border-radius:3px}
.wf .bar{position:absolute;top:0;height:12px;border-radius:3px;min-width:3px}
.wf .missing{color:#cf222e;font-weight:600}
"""


def _pill(status: str) -> str:
    colour = STATUS_COLOURS.get(status, "#57606a")
    return f'<span class="pill" style="background:{colour}">{escape(status)}</span>'


def _kv_table(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{escape(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _timings(result: dict[str, Any]) -> str:
    labels = {
        "createMs": "POST /images",
        "uploadMs": "upload",
        "processingMs": "upload → final status (polled)",
        "pipelineMs": "upload → last response (trace)",
        "totalMs": "total",
    }
    timings = result.get("timings", {})
    return _kv_table([(label, f"{timings[key]} ms") for key, label in labels.items() if key in timings])


def _outputs(result: dict[str, Any]) -> str:
    outputs = result.get("outputs") or {}
    if not outputs:
        return ""
    rows = "".join(
        f"<tr><td>{escape(name)}</td><td>{escape(o['format'])}</td><td>{o['width']}x{o['height']}</td>"
        f"<td>{o['bytes'] / 1024:.1f} KB</td><td>{escape(str(o.get('withheld') or ''))}</td></tr>"
        for name, o in sorted(outputs.items())
    )
    return (
        "<h3>Outputs</h3><table><tr><th>name</th><th>format</th><th>size</th><th>bytes</th>"
        f"<th>withheld</th></tr>{rows}</table>"
    )


def _previews(result: dict[str, Any]) -> str:
    assets = result.get("assets") or {}
    shown = [name for name in sorted(assets) if name not in {"thumbnail", "edit"}]
    if not shown:
        return ""
    alpha = ' class="alpha"' if (result.get("analysis") or {}).get("hasAlpha") else ""
    figures = "".join(
        f'<figure><img src="{escape(assets[name])}" alt="{escape(name)}" loading="lazy"{alpha}>'
        f"<figcaption>{escape(name)}</figcaption></figure>"
        for name in shown
    )
    return f'<div class="previews">{figures}</div>'


def _format_value(value: Any) -> str:
    if isinstance(value, dict):
        return escape(", ".join(f"{k}: {v}" for k, v in value.items() if v not in (None, "")))
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list):
        return escape(", ".join(map(str, value)))
    return escape(str(value))


def _analysis(result: dict[str, Any]) -> str:
    analysis = result.get("analysis")
    if not analysis:
        return ""
    rows = []
    for key, value in analysis.items():
        if key == "dominantColours" and isinstance(value, list):
            swatches = "".join(
                f'<span class="swatch" title="{escape(str(c.get("hex")))} {c.get("share", 0):.0%}" '
                f'style="background:{escape(str(c.get("hex")))}"></span>'
                for c in value
                if isinstance(c, dict)
            )
            rows.append((key, swatches))
        else:
            rows.append((key, _format_value(value)))
    return "<h3>Analysis</h3>" + _kv_table(rows)


def _recognition(result: dict[str, Any]) -> str:
    """What recognition saw: the backend, moderation's verdict, labels and faces where it has them."""
    recognition = result.get("recognition")
    if not recognition:
        return ""
    moderation = recognition.get("moderation") or {}
    score, threshold = moderation.get("score"), moderation.get("threshold")
    verdict = "flagged: withheld" if moderation.get("flagged") else "passed" if score is not None else "not checked"
    rows = [
        ("backend", escape(str(recognition.get("backend")))),
        ("moderation", escape(verdict)),
        ("score / threshold", escape(f"{_format_value(score)} / {_format_value(threshold)}")),
    ]
    flagging = moderation.get("labels") or []
    if flagging:
        rows.append(("moderation labels", escape(", ".join(f"{m['name']} {m['confidence']:.0%}" for m in flagging))))
    for key, what in (("labels", "labels"), ("faces", "faces")):
        if key not in recognition:  # a flagged image shows its verdict alone
            continue
        found = recognition[key]
        if found is None:
            rows.append((what, "not available from this backend"))
        elif key == "labels":
            rows.append((what, escape(", ".join(f"{x['name']} {x['confidence']:.0%}" for x in found[:10]) or "none")))
        else:
            rows.append((what, str(len(found))))
    return "<h3>Recognition</h3>" + _kv_table(rows)


def _waterfall(result: dict[str, Any]) -> str:
    events = result.get("trace") or []
    if not events:
        return ""
    span = max(1, *(e["offsetMs"] for e in events))
    rows = []
    for event in events:
        left = 100 * event["offsetMs"] / span
        colour = EVENT_COLOURS.get(event["type"], "#57606a")
        latency = event.get("latencyMs")
        label = f"+{latency} ms" if latency is not None else f"{event['offsetMs']} ms"
        rows.append(
            f'<div class="row"><span title="{escape(event["source"])}">{escape(event["type"])}</span>'
            f'<div class="track"><div class="bar" style="left:{left:.1f}%;width:3px;background:{colour}"></div>'
            f'<div class="bar" style="left:0;width:{left:.1f}%;background:{colour}33"></div></div>'
            f"<span>{label}</span></div>"
        )
    rows.extend(
        f'<div class="row"><span class="missing">{escape(missing)}</span>'
        f'<div class="track"></div><span class="missing">missing</span></div>'
        for missing in result.get("missing") or []
    )
    return '<h3>Timeline</h3><div class="wf">' + "".join(rows) + "</div>"


def _edit(result: dict[str, Any]) -> str:
    """The edit `make run` asked for: its output and the workflow's step timeline."""
    edit = result.get("edit") or {}
    if not edit:
        return ""
    asked = " → ".join(next(iter(op)) for op in edit.get("operations") or []) + f" → {edit.get('format')}"
    assets = result.get("assets") or {}
    image = (
        f'<figure><img src="{escape(assets["edit"])}" alt="edited {escape(result["file"])}" loading="lazy">'
        f"<figcaption>{escape(asked)}</figcaption></figure>"
        if "edit" in assets
        else ""
    )
    output = edit.get("output") or {}
    size = (
        f"{output.get('width')}x{output.get('height')} {output.get('format')}, {output.get('bytes', 0) / 1024:.1f} KB"
    )
    steps = edit.get("steps") or []
    total = max(1, sum(int(s.get("durationMs") or 0) for s in steps))
    rows, left = [], 0.0
    for step in steps:
        width = 100 * int(step.get("durationMs") or 0) / total
        rows.append(
            f'<div class="row"><span>{escape(str(step.get("step")))}</span><div class="track">'
            f'<div class="bar" style="left:{left:.1f}%;width:{max(width, 0.5):.1f}%;background:#8250df"></div></div>'
            f"<span>{int(step.get('durationMs') or 0)} ms</span></div>"
        )
        left += width
    reason = f'<div class="reason">{escape(str(edit.get("reason")))}</div>' if edit.get("reason") else ""
    return (
        f"<h3>Edit {_pill(str(edit.get('status')))}</h3>{reason}"
        f'<div class="previews">{image}</div><div class="muted">{escape(size) if output else ""}</div>'
        f'<div class="wf">{"".join(rows)}</div>'
    )


def _no_thumbnail(result: dict[str, Any]) -> str:
    withheld = ((result.get("outputs") or {}).get("thumbnail") or {}).get("withheld")
    return f"thumbnail withheld ({escape(withheld)})" if withheld else "no thumbnail"


def _card(result: dict[str, Any]) -> str:
    assets = result.get("assets") or {}
    thumb = (
        f'<img src="{escape(assets["thumbnail"])}" alt="thumbnail of {escape(result["file"])}">'
        if "thumbnail" in assets
        else f'<div class="none">{_no_thumbnail(result)}</div>'
    )
    reason = f'<div class="reason">{escape(result["reason"])}</div>' if result.get("reason") else ""
    alpha = " alpha" if (result.get("analysis") or {}).get("hasAlpha") else ""
    return (
        f'<section class="card"><div class="thumb{alpha}">{thumb}</div><div>'
        f"<h2>{escape(result['file'])} {_pill(result['status'])}</h2>"
        f'<div class="muted">image id {escape(result.get("imageId") or "-")}</div>{reason}'
        f"{_previews(result)}"
        f'<div class="cols"><div><h3>Timings</h3>{_timings(result)}{_outputs(result)}</div>'
        f"<div>{_analysis(result)}{_recognition(result)}</div><div>{_waterfall(result)}{_edit(result)}</div></div>"
        f"</div></section>"
    )


def _hub(hub: dict[str, Any]) -> str:
    aggregates, archive = hub["aggregates"], hub["archive"]
    day = aggregates["day"]
    rows = [
        ("read through", str(aggregates["readThrough"])),
        ("this run added", escape(json.dumps(aggregates["addedByThisRun"]["images"]))),
        ("matches the run", "yes" if aggregates["matches"] else "no"),
        ("images (day)", escape(json.dumps(day["images"]))),
        ("rejects (day)", escape(json.dumps(day["rejects"]))),
        ("formats (day)", escape(json.dumps(day["formats"]))),
        ("moderation (day)", escape(json.dumps(day["moderation"]))),
        ("top labels (day)", escape(json.dumps(day["topLabels"]))),
        ("bytes in / out", f"{day['bytesIn']} / {day['bytesOut']}"),
        ("latency p50 / p95", f"&le; {day['latencyP50Ms']} ms / &le; {day['latencyP95Ms']} ms"),
    ]
    archived = [(str(r["image_id"]), escape(f"{r['status']} ({r['events']} events)")) for r in archive["rows"]]
    verdict = "matches the run" if archive["matches"] else "does not match the run"
    return (
        f"<section class=card><div><h2>Event hub</h2><p class=muted>aggregates for {escape(aggregates['date'])}"
        f" (the aggregates consumer) and the archive's Athena query (the history consumer)</p></div>"
        f"<div>{_kv_table(rows)}"
        f"<p class=muted>archive: {escape(archive['query'])} - "
        f"{verdict}</p>{_kv_table(archived)}</div></section>"
    )


def render_report(results: list[dict[str, Any]], api_url: str, hub: dict[str, Any] | None = None) -> str:
    counts: dict[str, int] = {}
    for result in results:
        counts[result["status"]] = counts.get(result["status"], 0) + 1
    summary = "".join(f"{_pill(status)} {count}&nbsp;&nbsp;" for status, count in sorted(counts.items()))
    generated = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    cards = "".join(_card(r) for r in results) + (_hub(hub) if hub else "")
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        "<meta name=viewport content='width=device-width,initial-scale=1'>"
        f"<title>Image pipeline run</title><style>{CSS}</style></head><body>"
        f"<header><h1>Image pipeline run</h1><p>{len(results)} image(s) through {escape(api_url)} · "
        f"{generated}</p></header><main><div class=summary>{summary}</div>{cards}</main></body></html>\n"
    )

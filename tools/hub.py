"""The event hub's consumers as a client sees them: daily aggregates through the GraphQL API
(the aggregates consumer) and report queries over the archive through Athena (the history consumer).

    python -m tools.hub aggregates [--date YYYY-MM-DD]
"""

import argparse
import json
import os
import re
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from image_pipeline.hub.aggregates import DailyStats
from tools.engine import LocalEngine
from tools.stack import Stack

# The prefix of the local hub and consumer stacks (the Makefile's HUB_STACKS, which it exports).
HUB_STACKS = os.environ.get("HUB_STACKS", "image-pipeline-local")

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ROOT / "consumers" / "history" / "queries"
DAILY_STATS = "query DailyStats($date: String!) { dailyStats(date: $date) { date counters } }"
IMAGE_STATUS = (
    "query ImageStatus($imageId: ID!) { imageStatus(imageId: $imageId) { imageId status version reason reasonCode } }"
)
IMAGE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class QueryFailed(RuntimeError):
    pass


def today() -> str:
    return datetime.now(UTC).date().isoformat()


@dataclass
class Aggregates:
    """The aggregates consumer's GraphQL API, signed with SigV4 as any IAM client signs (its default auth)."""

    stack: Stack

    @property
    def url(self) -> str:
        if self.stack.endpoint_url:  # the local engine serves GraphQL under /v1/apis/{id}/graphql
            return f"{self.stack.endpoint_url}/v1/apis/{self.stack.outputs['StatsApiId']}/graphql"
        return self.stack.outputs["StatsApiUrl"]

    def _query(self, query: str, variables: dict[str, str]) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables})
        signed = AWSRequest(method="POST", url=self.url, data=body, headers={"Content-Type": "application/json"})
        session = boto3.session.Session()
        credentials = session.get_credentials()
        if credentials is None:
            raise QueryFailed("no AWS credentials to sign the GraphQL request with")
        SigV4Auth(credentials, "appsync", session.region_name or "us-east-1").add_auth(signed)
        request = urllib.request.Request(self.url, data=body.encode(), method="POST", headers=dict(signed.headers))
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.loads(response.read())
        if answer.get("errors"):
            raise QueryFailed(f"{variables}: {answer['errors']}")
        return dict(answer["data"])

    def daily(self, date: str) -> DailyStats:
        stats = self._query(DAILY_STATS, {"date": date})["dailyStats"]
        counters = json.loads(stats["counters"]) if stats else {}
        return DailyStats.from_counters(date, {k: int(v) for k, v in counters.items()})

    def image_status(self, image_id: str) -> dict[str, Any] | None:
        """The image's status as the aggregates applied it (the tracker's last announcement)."""
        found = self._query(IMAGE_STATUS, {"imageId": image_id})["imageStatus"]
        return dict(found) if found else None


@dataclass
class Archive:
    """The history consumer's Athena workgroup and Glue table; queries are the files in QUERIES."""

    stack: Stack

    def run(self, sql: str, timeout: float = 60) -> list[dict[str, str | None]]:
        athena = boto3.client("athena")
        started = athena.start_query_execution(
            QueryString=sql,
            QueryExecutionContext={"Database": self.stack.outputs["DatabaseName"]},
            WorkGroup=self.stack.outputs["WorkGroupName"],
        )
        query_id = started["QueryExecutionId"]
        deadline = time.monotonic() + timeout
        while True:
            status = athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]["Status"]
            if status["State"] == "SUCCEEDED":
                break
            if status["State"] in {"FAILED", "CANCELLED"} or time.monotonic() > deadline:
                raise QueryFailed(f"{status['State']}: {status.get('StateChangeReason', 'timed out')}")
            time.sleep(0.5)
        rows = athena.get_query_results(QueryExecutionId=query_id)["ResultSet"]["Rows"]
        header = [c.get("VarCharValue", "") for c in rows[0]["Data"]] if rows else []
        return [dict(zip(header, (c.get("VarCharValue") for c in row["Data"]), strict=True)) for row in rows[1:]]

    def report(self, name: str, **parameters: str) -> list[dict[str, str | None]]:
        return self.run((QUERIES / f"{name}.sql").read_text().format(**parameters))

    def image_statuses(self, image_ids: list[str]) -> dict[str, dict[str, str | None]]:
        """Each image's archived events and status (query ``image_status``), by image id."""
        if not all(IMAGE_ID.match(i) for i in image_ids):
            raise ValueError("image ids must be plain identifiers")
        listed = ", ".join(f"'{i}'" for i in image_ids)
        return {str(row["image_id"]): row for row in self.report("image_status", image_ids=listed)}


def _delta(after: DailyStats, before: DailyStats) -> dict[str, dict[str, int]]:
    def minus(a: dict[str, int], b: dict[str, int]) -> dict[str, int]:
        return {k: a[k] - b.get(k, 0) for k in sorted(a) if a[k] != b.get(k, 0)}

    return {
        "images": minus(after.images, before.images),
        "events": minus(after.events, before.events),
        "rejects": minus(after.rejects, before.rejects),
        "moderation": minus(after.moderation, before.moderation),
    }


def quarantined(hub: Stack, image_ids: set[str]) -> list[dict[str, Any]]:
    """The quarantined events of these images (peeked at: they stay in the queue)."""
    sqs, url = boto3.client("sqs"), hub.outputs["QuarantineQueueUrl"]
    found, seen = [], set()
    for _ in range(10):  # peek at up to 100 messages
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=0).get("Messages", [])
        fresh = [m for m in messages if m["MessageId"] not in seen]
        if not fresh:
            break
        for message in fresh:
            seen.add(message["MessageId"])
            body = json.loads(message["Body"])
            event = body.get("event")
            metadata = event.get("detail", {}).get("metadata", {}) if isinstance(event, dict) else {}
            if isinstance(metadata, dict) and metadata.get("correlationId") in image_ids:
                found.append({"reason": body.get("reason"), "message": body.get("message")})
    return found


@dataclass
class RunCheck:
    """What `make run` shows of the hub: the aggregates this run added (read through the aggregates consumer's
    API, else its table) and this run's images as the archive's Athena query returns them."""

    aggregates: Aggregates
    archive: Archive
    hub: Stack
    date: str
    before: DailyStats
    source: str

    @classmethod
    def start(cls, aggregates: Aggregates, archive: Archive, hub: Stack) -> "RunCheck":
        date = today()
        before, source = cls._read(aggregates, date)
        return cls(aggregates, archive, hub, date, before, source)

    @staticmethod
    def _read(aggregates: Aggregates, date: str) -> tuple[DailyStats, str]:
        try:
            return aggregates.daily(date), "graphql"
        except (QueryFailed, OSError):
            table = aggregates.stack.outputs["StatsTableName"]
            item = boto3.client("dynamodb").get_item(
                TableName=table, Key={"pk": {"S": f"DAY#{date}"}, "sk": {"S": "STATS"}}, ConsistentRead=True
            )
            counters = {k: int(v["N"]) for k, v in item.get("Item", {}).items() if "N" in v}
            return DailyStats.from_counters(date, counters), "table"

    def finish(self, statuses: dict[str, str], timeout: float = 90) -> dict[str, Any]:
        """Wait until the aggregates and the archive say, image by image, the status the API says,
        and the day's counters moved by exactly this run's images."""
        expected = dict(sorted(Counter(statuses.values()).items()))
        ids = sorted(statuses)
        deadline = time.monotonic() + timeout
        while True:
            after, source = self._read(self.aggregates, self.date)
            added = _delta(after, self.before)
            applied = {i: self.aggregates.image_status(i) for i in ids}
            rows = self.archive.image_statuses(ids) if ids else {}
            images = [
                {
                    "imageId": i,
                    "api": statuses[i],
                    "graphql": (applied[i] or {}).get("status"),
                    "archive": (rows.get(i) or {}).get("status"),
                    "version": (applied[i] or {}).get("version"),
                }
                for i in ids
            ]
            agree = all(row["api"] == row["graphql"] == row["archive"] for row in images)
            counted = added["images"] == expected
            if (agree and counted) or time.monotonic() > deadline:
                break
            time.sleep(1)
        return {
            # every event this run produced kept its contract: none of them is in the quarantine
            "quarantine": {"forThisRun": quarantined(self.hub, set(statuses))},
            "images": images,
            "agree": agree,
            "aggregates": {
                "date": self.date,
                "readThrough": source,
                "expected": expected,
                "addedByThisRun": added,
                "matches": counted,
                "day": after.to_dict(),
            },
            "archive": {
                "query": "consumers/history/queries/image_status.sql",
                "rows": list(rows.values()),
                "matches": all(row["api"] == row["archive"] for row in images),
                "imagesByStatus": self.archive.report("images_by_status"),
                "latencyPercentiles": self.archive.report("latency_percentiles"),
            },
        }


def local_consumers(engine: LocalEngine | None = None) -> tuple[Aggregates, Archive, Stack]:
    """The aggregates consumer, the history consumer and the hub of the local one-account deployment."""
    engine = engine or LocalEngine()
    os.environ.update(engine.client_env())
    base = HUB_STACKS
    return (
        Aggregates(Stack(f"{base}-aggregates", endpoint_url=engine.url)),
        Archive(Stack(f"{base}-history", endpoint_url=engine.url)),
        Stack(f"{base}-hub", endpoint_url=engine.url),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["aggregates"])
    parser.add_argument("--date", default=today())
    args = parser.parse_args()
    aggregates, _, _ = local_consumers()
    print(json.dumps(aggregates.daily(args.date).to_dict(), indent=2))


if __name__ == "__main__":
    main()

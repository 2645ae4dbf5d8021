"""AppSync adapter of the aggregates consumer's live updates: the ``publishDailyStats`` mutation, signed with
the function's role (IAM auth), which AppSync fans out to ``onDailyStats`` subscribers."""

import json
import os
import urllib.error
import urllib.request
from collections.abc import Mapping

import boto3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

from image_pipeline.hub.aggregates import PushFailed, StatsPush

PUBLISH = (
    "mutation Publish($date: String!, $counters: AWSJSON!) "
    "{ publishDailyStats(date: $date, counters: $counters) { date counters } }"
)


def graphql_url(api_url: str, api_id: str) -> str:
    """The API's URL; on the local engine (AWS_ENDPOINT_URL set) the path it serves GraphQL on."""
    if endpoint := os.environ.get("AWS_ENDPOINT_URL"):
        return f"{endpoint.rstrip('/')}/v1/apis/{api_id}/graphql"
    return api_url


class AppSyncStatsPush(StatsPush):
    def __init__(self, api_url: str, api_id: str, timeout: float = 5) -> None:
        self._url = graphql_url(api_url, api_id)
        self._timeout = timeout
        self._session = boto3.Session()

    def signed_request(self, day: str, counters: Mapping[str, int]) -> urllib.request.Request:
        body = json.dumps({"query": PUBLISH, "variables": {"date": day, "counters": json.dumps(dict(counters))}})
        request = AWSRequest(method="POST", url=self._url, data=body, headers={"Content-Type": "application/json"})
        credentials = self._session.get_credentials()
        if credentials is None:
            raise PushFailed("no AWS credentials to sign the mutation with")
        SigV4Auth(credentials.get_frozen_credentials(), "appsync", self._session.region_name or "us-east-1").add_auth(
            request
        )
        if not self._url.startswith(("https://", "http://")):
            raise PushFailed(f"not an API URL: {self._url!r}")
        return urllib.request.Request(self._url, data=body.encode(), headers=dict(request.headers), method="POST")  # noqa: S310

    def push(self, day: str, counters: Mapping[str, int]) -> None:
        try:
            request = self.signed_request(day, counters)  # only http(s): checked there
            with urllib.request.urlopen(request, timeout=self._timeout) as response:  # noqa: S310
                answer = json.loads(response.read())
        except (OSError, ValueError) as exc:
            raise PushFailed(f"publishDailyStats: {exc}") from exc
        if answer.get("errors"):
            raise PushFailed(f"publishDailyStats: {answer['errors']}")

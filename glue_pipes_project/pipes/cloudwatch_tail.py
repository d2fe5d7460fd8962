"""Read one CloudWatch Logs stream from its first event, page after page, exactly once.

dagster-aws reads without ``startFromHead``, so its first page is the *tail* of the stream and the
head is lost once a run writes more than one page; this reader always starts at the head and
follows ``nextForwardToken``.

Every tail of a client shares one GetLogEvents budget with every other reader on the machine
(``call_budget``): CloudWatch allows about 10 to 25 calls per second per account and Region, for all
steps together. A call that is throttled anyway reads nothing this time; the next ``read`` resumes
from the same token, so nothing is lost and the reader carries on.
"""

from __future__ import annotations

from typing import Any

from glue_pipes_project.pipes.call_budget import CallBudget


class CloudWatchTail:
    """A cursor over ``log_group``/``log_stream``; ``read`` returns the next page of messages."""

    def __init__(self, client: Any, log_group: str, log_stream: str):
        self.client = client
        self.log_group = log_group
        self.log_stream = log_stream
        self._token: str | None = None
        CallBudget.attach(client, "GetLogEvents")

    def read(self) -> list[str]:
        """The messages written since the last call (empty when none yet, no stream yet, or throttled)."""
        params: dict[str, Any] = {
            "logGroupName": self.log_group,
            "logStreamName": self.log_stream,
            "startFromHead": True,
        }
        if self._token:
            params["nextToken"] = self._token
        try:
            response = self.client.get_log_events(**params)
        except self.client.exceptions.ResourceNotFoundException:
            return []  # Glue creates the stream with the first line the script writes
        except self.client.exceptions.ThrottlingException:
            return []  # botocore's retries were throttled too; the budget has slowed down meanwhile
        self._token = response["nextForwardToken"]
        return [event["message"] for event in response.get("events", [])]

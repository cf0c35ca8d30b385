"""When a failed SNA task is retried.

A database or storage failure (`TransientError`) may heal: retry with exponential backoff. A
configuration or data-contract error (`PermanentError`) fails the same way every time: fail at
once, so the person who must fix the YAML or the data sees it now rather than in an hour.
Anything else (an unexpected bug, a network error the engine did not wrap) keeps Airflow's
standard behaviour: the task's retries apply.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airflow.sdk import ExceptionRetryPolicy, RetryAction, RetryRule

from sna.errors import PermanentError, TransientError

RETRIES = 4
FIRST_RETRY_DELAY = timedelta(minutes=1)
MAX_RETRY_DELAY = timedelta(minutes=30)
BACKOFF_MULTIPLIER = 2.0

RETRY_POLICY = ExceptionRetryPolicy(
    rules=[
        RetryRule(
            exception=PermanentError, action=RetryAction.FAIL,
            reason="configuration or data-contract error: retrying cannot help",
        ),
        RetryRule(
            exception=TransientError, action=RetryAction.RETRY,
            reason="database or storage failure: retrying with backoff",
        ),
    ],
    default=RetryAction.DEFAULT,
)


def retry_arguments() -> dict[str, Any]:
    """`default_args` of every SNA DAG: 1, 2, 4, 8 minutes between tries (at most 30)."""
    return {
        "retries": RETRIES,
        "retry_delay": FIRST_RETRY_DELAY,
        "retry_exponential_backoff": BACKOFF_MULTIPLIER,
        "max_retry_delay": MAX_RETRY_DELAY,
        "retry_policy": RETRY_POLICY,
    }

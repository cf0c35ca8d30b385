"""The housekeeping defaults the DAG layer shows at parse time (the housekeeping form's fields).

Apart from `sna.exports` and `sna.housekeeping`, which use them, because those import boto3: a DAG
file's parse imports no data library.
"""

from __future__ import annotations

from datetime import timedelta

from sna.audience import Audience

STAGING_MAX_AGE = timedelta(hours=24)
"""Staging younger than this may belong to a run still in progress (or waiting for a retry)."""
DEFAULT_RETENTION_DAYS: int = Audience.model_fields["retention_days"].default
"""The retention of exports without an audience file (ad hoc): an audience's default."""

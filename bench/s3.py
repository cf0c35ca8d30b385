"""SeaweedFS for the benchmark: the test fixture's `weed mini` launcher (every port moved), reused as is."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

from tests.fixtures.s3 import REGION, SeaweedS3

__all__ = ["REGION", "BenchS3"]


class BenchS3:
    """One `weed mini` and one bucket for a benchmark run; `environment()` points boto3 at it."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="sna-bench-s3-")
        self.server = SeaweedS3(Path(self._folder.name))
        self.bucket = f"sna-bench-{uuid.uuid4().hex[:12]}"

    def __enter__(self) -> BenchS3:
        self.server.start()
        self.server.client().create_bucket(Bucket=self.bucket)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop()
        self._folder.cleanup()

    def storage_url(self, prefix: str) -> str:
        return f"s3://{self.bucket}/{prefix}"

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if k not in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE")}
        env.update(AWS_ENDPOINT_URL=self.server.endpoint_url, AWS_ACCESS_KEY_ID=self.server.access_key,
                   AWS_SECRET_ACCESS_KEY=self.server.secret_key, AWS_DEFAULT_REGION=REGION)
        return env

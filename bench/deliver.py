"""Delivery at scale: one audience exported and delivered twice to a contract fake of its platform.

The first delivery is a full replace (every member); the second run suppresses 1,000 of them, so
the mirror sends only their removal. Both go through the real client libraries over HTTP to the
fakes of tests/fakes on 127.0.0.1: the seconds measure SNA's side (member sets, hashing, batching,
throttling, polling), not the platforms'.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.shop import AS_OF
from sna.audience import Audience
from sna.delivery.clients import Credentials
from sna.pipeline import ExportJob
from sna.runtime import Runtime
from sna.settings import Locations, Settings, project_root
from tests.fakes.google_datamanager import GoogleDataManagerFake
from tests.fakes.meta_graph import DEFAULT_AUDIENCE_ID, DEFAULT_TOKEN, MetaGraphFake

SUPPRESSED = 1_000
DELIVERY = {
    "google": {"google": {"operating_account_id": "1234567890", "user_list_id": "4455667788",
                          "consent": {"ad_user_data": "granted", "ad_personalization": "granted"}}},
    "meta": {"meta": {"custom_audience_id": DEFAULT_AUDIENCE_ID}},
}


def _run(runtime: Runtime, audience: Audience, day: dt.date) -> tuple[Any, float]:
    started = time.perf_counter()
    report = runtime.pipeline().run(ExportJob(audience, day))
    return report, time.perf_counter() - started


def deliver(source_url: str, storage_url: str, platform: str) -> dict[str, Any]:
    fake = (GoogleDataManagerFake() if platform == "google" else MetaGraphFake()).start()
    endpoint = fake.endpoint if platform == "google" else fake.url
    settings = Settings(google_datamanager_url=endpoint, google_poll_seconds=0.05, meta_graph_url=endpoint)
    credentials = Credentials(google="anonymous", meta_access_token=DEFAULT_TOKEN)
    with tempfile.TemporaryDirectory(prefix="sna-bench-deliver-") as folder:
        suppression = Path(folder) / "suppressed.txt"
        suppression.write_text("# none yet\n", encoding="utf-8")
        document = {"name": f"bench_deliver_{platform}", "platform": platform, "require_complete": False,
                    "suppression_list": str(suppression), "delivery": DELIVERY[platform]}
        audience = Audience.model_validate(document)
        locations = Locations(source_url=source_url, storage_url=storage_url,
                              registry_url=f"sqlite:///{Path(folder) / 'registry.db'}")
        runtime = Runtime(locations, settings, project_root())
        runtime.credentials = lambda: credentials  # type: ignore[method-assign]
        try:
            first, first_seconds = _run(runtime, audience, AS_OF - dt.timedelta(days=1))
            content = runtime.store().open(first.export_id)[1]
            with content as stream:
                rows = list(csv.reader(io.TextIOWrapper(stream, encoding="utf-8")))[1:SUPPRESSED + 1]
            suppression.write_text("\n".join(row[0] for row in rows if row[0]) + "\n", encoding="utf-8")
            second, second_seconds = _run(runtime, audience, AS_OF)
        finally:
            runtime.close()
            fake.stop()
    return {
        "seconds": round(first_seconds, 3), "rows": first.rows, "scanned": first.scanned,
        "full": {**{k: first.delivery[k] for k in ("added", "removed", "requests")},
                 "run_seconds": round(first_seconds, 3)},
        "mirror": {**{k: second.delivery[k] for k in ("added", "removed", "requests")},
                   "run_seconds": round(second_seconds, 3)},
    }

"""Each measure runs in a child process (`python -m bench.child <kind> <json>`), so that the peak
resident memory it reports is its own: the child's VmHWM plus the peak of any worker it started."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def peak_rss_mb() -> float:
    """This process's high-water mark plus the largest waited-for child (pool workers), in MB."""
    own = 0.0
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                own = int(line.split()[1]) / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own + children


def run_child(kind: str, args: dict[str, Any], env: dict[str, str] | None = None,
              timeout: float = 1800) -> dict[str, Any]:
    """Runs one measure in a fresh interpreter and returns its JSON result (wall time measured inside)."""
    environment = dict(env or os.environ)
    environment["PYTHONPATH"] = os.pathsep.join([str(ROOT / "plugins"), str(ROOT)])
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "bench.child", kind, json.dumps(args)], cwd=ROOT,
                          env=environment, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"bench child {kind} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["process_seconds"] = round(time.perf_counter() - started, 3)
    return result

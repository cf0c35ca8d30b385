"""Each measure runs in a child process (`python -m bench.child <kind> <json>`), and this process
samples the memory of the child's whole process tree while it runs (`TreeSampler`).

The headline figure is the peak of the tree's summed PSS (proportional set size: each page shared
by n processes counts 1/n in each), sampled every 40 ms from /proc/<pid>/smaps_rollup. The pool's
workers are a fork server's children: the pages of the libraries the server preloaded (numpy,
pandas, pyarrow, connectorx, ...) are shared copy-on-write by the server and every worker, and RSS
counts them in full in each process, so a sum of RSS figures overstates what the machine holds.
Beside it, the sum over the tree's processes of each one's own RSS high-water mark (VmHWM) is kept
as the pessimistic upper bound (`rss_peaks_mb`): shared pages counted once per process, and the
processes' peaks added as if they happened at the same moment. A tree that lives shorter than one
interval is read once at least; the child's own final VmHWM (reported by itself) replaces its last sample.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
INTERVAL = 0.04
"""Seconds between two samples of the tree (a smaps_rollup read of a 1 GB process costs ~1 ms)."""


def own_peak_rss_mb() -> float:
    """This process's own resident high-water mark (VmHWM), in MB: no children counted."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _descendants(root: int) -> list[int]:
    """`root` and every process below it (the fork server, its workers, the resource tracker)."""
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        try:
            for task in os.listdir(f"/proc/{pid}/task"):
                with open(f"/proc/{pid}/task/{task}/children") as children:
                    stack.extend(int(child) for child in children.read().split())
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue  # exited between two reads
    return found


def _field_kb(path: str, name: str) -> int:
    with open(path) as lines:
        for line in lines:
            if line.startswith(name):
                return int(line.split()[1])
    return 0


class TreeSampler(threading.Thread):
    """The peak summed PSS of a process tree, and each process's highest VmHWM, sampled until stopped."""

    def __init__(self, root: int, interval: float = INTERVAL) -> None:
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.pss_peak_kb = 0
        self.hwm_kb: dict[int, int] = {}
        self.samples = 0
        self._halt = threading.Event()

    def sample(self) -> None:
        total = 0
        for pid in _descendants(self.root):
            try:
                pss = _field_kb(f"/proc/{pid}/smaps_rollup", "Pss:")
                hwm = _field_kb(f"/proc/{pid}/status", "VmHWM:")
            except (FileNotFoundError, ProcessLookupError, PermissionError):
                continue
            total += pss
            self.hwm_kb[pid] = max(self.hwm_kb.get(pid, 0), hwm)
        self.pss_peak_kb = max(self.pss_peak_kb, total)
        self.samples += 1

    def run(self) -> None:
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)

    def stop(self) -> None:
        self._halt.set()
        self.join()

    @property
    def rss_peaks_kb(self) -> int:
        return sum(self.hwm_kb.values())


def run_child(kind: str, args: dict[str, Any], env: dict[str, str] | None = None,
              timeout: float = 3600) -> dict[str, Any]:
    """Runs one measure in a fresh interpreter and returns its JSON result (wall time measured inside)
    with the tree's memory: `peak_mb` (peak summed PSS, the headline) and `rss_peaks_mb` (upper bound)."""
    environment = dict(env or os.environ)
    environment["PYTHONPATH"] = os.pathsep.join([str(ROOT / "plugins"), str(ROOT)])
    started = time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "bench.child", kind, json.dumps(args)], cwd=ROOT,
                             env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sampler = TreeSampler(child.pid)
    sampler.start()
    try:
        stdout, stderr = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.communicate()
        raise
    finally:
        sampler.stop()
    if child.returncode != 0:
        raise RuntimeError(f"bench child {kind} failed ({child.returncode}):\n{stderr[-3000:]}")
    result = json.loads(stdout.strip().splitlines()[-1])
    result["process_seconds"] = round(time.perf_counter() - started, 3)
    own_kb = int(result.get("own_peak_rss_mb", 0.0) * 1024)  # the child's final VmHWM: later than any sample
    sampler.hwm_kb[child.pid] = max(sampler.hwm_kb.get(child.pid, 0), own_kb)
    result["peak_mb"] = round(sampler.pss_peak_kb / 1024, 1)
    result["rss_peaks_mb"] = round(sampler.rss_peaks_kb / 1024, 1)
    result["memory_samples"] = sampler.samples
    return result

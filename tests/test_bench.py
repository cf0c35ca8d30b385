"""The benchmark's own plumbing: a measure's child, the tree's memory sampler and the report agree
on their keys (a run of twenty minutes must not fail at its last step). The DAG parse measure is
the cheap one to run for real: a handful of audiences, every DAG file in a child of its own."""

from __future__ import annotations

import pytest

from bench.dagparse import dag_files, parse
from bench.report import build_rows, render_table

pytestmark = pytest.mark.timeout(300)


def test_the_dag_parse_measure_runs_and_reports_every_file() -> None:
    measured = parse(5)

    assert len(measured["files"]) == len(dag_files()) > 1
    assert measured["audiences"] == 5 and measured["seconds"] == max(f["seconds"] for f in measured["files"])
    assert measured["peak_mb"] > 0 and measured["rss_peaks_mb"] >= measured["peak_mb"] * 0.5
    results = {"sizes": {}, "dagparse": [measured]}
    (row,) = build_rows(results)
    assert row["measure"].startswith("dag parse (5 audiences") and row["peak_mb"] == measured["peak_mb"]
    assert "dag parse (5 audiences" in render_table(results)

"""Entry point of one measure in its own process: `python -m bench.child <kind> <json args>`.

Prints one JSON line: the measure's result plus this process's peak resident memory.
"""

from __future__ import annotations

import json
import sys

from bench.measure import peak_rss_mb


def main() -> None:
    kind, args = sys.argv[1], json.loads(sys.argv[2])
    if kind == "product":
        from bench.product import export
        result = export(args["source_url"], args["storage_url"], args["platform"],
                        source_reader=args.get("reader", "arrow"))
    elif kind == "floor":
        from bench.floor import scan
        result = scan(args["source_url"], args["storage_url"])
    elif kind == "arrowfloor":
        from bench.floor import arrow_scan
        result = arrow_scan(args["source_url"], args["storage_url"])
    elif kind == "naive":
        from bench.naive import run
        result = run(args["source_url"], args["storage_url"], args["platform"])
    elif kind == "deliver":
        from bench.deliver import deliver
        result = deliver(args["source_url"], args["storage_url"], args["platform"])
    elif kind == "dagparse":
        from bench.dagparse import parse_file
        result = parse_file(args["folder"], args["file"])
    else:
        raise SystemExit(f"unknown measure {kind!r}")
    result["peak_rss_mb"] = round(peak_rss_mb() + result.get("workers_peak_mb", 0), 1)  # a pool's workers too
    print(json.dumps(result))


if __name__ == "__main__":
    main()

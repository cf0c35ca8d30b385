"""Entry point of one measure in its own process: `python -m bench.child <kind> <json args>`.

Prints one JSON line: the measure's result plus this process's own resident high-water mark. The
memory of the whole tree (this process, the fork server, the pool's workers) is sampled from outside,
by the parent (`bench.measure.TreeSampler`): a worker is not this process's waited-for child, and the
workers share the fork server's preloaded pages, which no figure read from inside can apportion.
"""

from __future__ import annotations

import json
import resource
import sys

from bench.measure import own_peak_rss_mb


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
    result["own_peak_rss_mb"] = round(own_peak_rss_mb(), 1)
    # what the figure before the tree sampler added (the largest waited-for descendant), kept to compare
    result["rusage_children_mb"] = round(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""`python -m bench`: shops of N customers in MariaDB, then the product's exports, the physical
floors (Python and Arrow-native), the naive baseline and the DAG parse, side by side on the same
data and storage."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
from pathlib import Path
from typing import Any

from bench.dagparse import parse as parse_dag_files
from bench.measure import ROOT, run_child
from bench.report import render_table, write_json
from bench.s3 import BenchS3
from bench.shop import ensure_shop

PARTS = ("export", "floor", "arrowfloor", "naive", "deliver", "dagparse")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--sizes", default="100000,1000000,5000000", help="customer counts, comma-separated")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"which measures ({', '.join(PARTS)})")
    parser.add_argument("--platforms", default="google,meta", help="platforms of the product exports")
    parser.add_argument("--naive-platforms", default="google,meta", help="platforms of the naive baseline")
    parser.add_argument("--naive-sizes", default="100000",
                        help="customer counts for the naive baseline, comma-separated (about 30 s at 100k, 7 min at 1M)")
    parser.add_argument("--deliver-sizes", default="100000",
                        help="customer counts for the delivery measure (export + delivery to the contract fakes)")
    parser.add_argument("--reader", default="arrow", choices=("arrow", "python", "auto"),
                        help="source_reader of the product exports (default arrow: no silent fallback)")
    parser.add_argument("--parse-audiences", default="200,2000",
                        help="audience file counts of the DAG parse, comma-separated")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "latest.json")
    parser.add_argument("--rebuild", action="store_true", help="rewrite the bench shops even if present")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    parts = set(args.parts.split(","))
    sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s]
    results: dict[str, Any] = {"when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                               "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
                               "sizes": {}, "shop_load_seconds": {}, "reader": args.reader}
    shops = {}
    for size in sizes:
        shops[size], loaded = ensure_shop(size, rebuild=args.rebuild)
        if loaded is not None:
            results["shop_load_seconds"][str(size)] = round(loaded, 1)
    with BenchS3() as s3:
        env = s3.environment()
        for size in sizes:
            measures: dict[str, Any] = {}
            results["sizes"][str(size)] = measures
            common = {"source_url": shops[size]}
            if "floor" in parts:
                print(f"[{size:,}] floor ...", flush=True)
                measures["floor"] = run_child("floor", {**common, "storage_url": s3.storage_url(f"floor{size}")}, env)
            if "arrowfloor" in parts:
                print(f"[{size:,}] arrow floor ...", flush=True)
                measures["arrow floor"] = run_child(
                    "arrowfloor", {**common, "storage_url": s3.storage_url(f"arrowfloor{size}")}, env)
            if "export" in parts:
                for name in args.platforms.split(","):
                    print(f"[{size:,}] export {name} ...", flush=True)
                    measures[f"export:{name}"] = run_child(
                        "product", {**common, "storage_url": s3.storage_url(f"product{size}"), "platform": name,
                                    "reader": args.reader}, env)
            deliver_sizes = args.deliver_sizes.replace("_", "").split(",")
            if "deliver" in parts and str(size) in deliver_sizes:
                for name in args.platforms.split(","):
                    print(f"[{size:,}] deliver {name} ...", flush=True)
                    measures[f"deliver:{name}"] = run_child(
                        "deliver", {**common, "storage_url": s3.storage_url(f"deliver{size}"), "platform": name}, env)
            if "naive" in parts and str(size) in args.naive_sizes.replace("_", "").split(","):
                for name in args.naive_platforms.split(","):
                    print(f"[{size:,}] naive {name} ...", flush=True)
                    measures[f"naive:{name}"] = run_child(
                        "naive", {**common, "storage_url": s3.storage_url(f"naive{size}"), "platform": name}, env)
    if "dagparse" in parts:
        results["dagparse"] = []
        for count in (int(n.replace("_", "")) for n in args.parse_audiences.split(",") if n):
            print(f"DAG parse with {count:,} audiences ...", flush=True)
            results["dagparse"].append(parse_dag_files(count))
    print()
    print(render_table(results))
    write_json(results, args.out)
    print(f"\nwritten {args.out}")


if __name__ == "__main__":
    main()

"""The `sna` command line: the same engine as the DAGs, for scripts, checks and debugging.

Errors end as one line on standard error and a non-zero exit status, never a traceback (set
SNA_DEBUG=1 to see one). Messages carry counts and ids, never customer data. Exit status: 0 done,
1 failed (or declined, or the reader of standard output went away), 2 usage error. Only `run`
creates a registry; the other commands that use one need an existing one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

from sna.audience import find_audience, load_audience, load_audiences
from sna.delivery.sync import DeliveryReport
from sna.errors import AudienceFileError, ConfigError, NotFoundError, SnaError
from sna.exports import ExportStore
from sna.pipeline import ExportJob, ExportReport, NoProgress, Progress
from sna.registry import MAX_PAGE
from sna.registry.access import Actor
from sna.runtime import Runtime
from sna.settings import load_settings

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _TqdmProgress:
    """A progress bar on standard error, only when it is a terminal."""

    def __init__(self) -> None:
        self._bar = None

    def start(self, label: str, total: int | None) -> None:
        from tqdm import tqdm

        tqdm.monitor_interval = 0  # no monitor thread: a process with a thread of its own forks no workers
        self.finish()
        self._bar = tqdm(total=total, desc=label, unit=" customers", file=sys.stderr, leave=False)

    def advance(self, rows: int) -> None:
        if self._bar is not None:
            self._bar.update(rows)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class _Parser(argparse.ArgumentParser):
    """Usage errors as one line, like every other error (`sna: error: ...`, exit 2), not a usage block."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"sna: error: {' '.join(message.split())} (see `{self.prog} --help`)\n")


def _reference_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        # argparse prefixes "argument --reference-date: " itself
        raise argparse.ArgumentTypeError(f"{text!r} is not a date YYYY-MM-DD") from None


def _bounded(low: int, high: int) -> Callable[[str], int]:
    def whole_number(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not between {low} and {high}")
        return value

    return whole_number


def _locations_parent() -> argparse.ArgumentParser:
    parent = _Parser(add_help=False)
    group = parent.add_argument_group("locations (flags win over SNA_SOURCE_URL, SNA_STORAGE_URL, SNA_REGISTRY_URL)")
    group.add_argument("--source-url", default=argparse.SUPPRESS, help="SQLAlchemy URL of the shop database")
    group.add_argument("--storage-url", default=argparse.SUPPRESS, help="s3://bucket/prefix or file:///abs/dir")
    group.add_argument("--registry-url", default=argparse.SUPPRESS, help="SQLAlchemy URL of the export registry")
    return parent


def build_parser() -> argparse.ArgumentParser:
    locations = _locations_parent()
    parser = _Parser(
        prog="sna", parents=[locations],
        description="Export PrestaShop customers as Google Ads / Meta customer-list files.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    validate = commands.add_parser("validate", help="check audience files", parents=[locations])
    validate.add_argument("paths", nargs="+", metavar="PATH", help="audience files or folders")

    for name, text in (("preview", "scan and count; write nothing"), ("run", "export: write the file, record it")):
        command = commands.add_parser(name, help=text, parents=[locations])
        command.add_argument("audience", metavar="AUDIENCE.yaml")
        command.add_argument("--reference-date", type=_reference_date, default=None,
                             help="the run's reference date YYYY-MM-DD (default: today, UTC)")
        command.add_argument("--json", action="store_true", help="print one JSON object as the last line")
        if name == "run":
            command.add_argument("--dry-run", action="store_true",
                                 help="counts only, no file; with a delivery block, what would be added and "
                                      "removed on the platform (nothing is sent)")
            command.add_argument("--no-deliver", action="store_true",
                                 help="write and record the file, but do not deliver it to the platform")

    deliver = commands.add_parser("deliver", help="(re)deliver a recorded export to its platform",
                                  parents=[locations])
    deliver.add_argument("export_id", metavar="EXPORT_ID")
    deliver.add_argument("--json", action="store_true", help="print one JSON object as the last line")
    deliver.add_argument("--dry-run", action="store_true", help="compute what would be added and removed; send nothing")
    deliver.add_argument("--validate-only", action="store_true",
                         help="send with the platform's validation mode (Google validateOnly): nothing changes")

    exports = commands.add_parser("exports", help="list, download, delete exports", parents=[locations])
    actions = exports.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help="export entries, newest first", parents=[locations])
    listing.add_argument("--audience")
    listing.add_argument("--platform", choices=("google", "meta"))
    listing.add_argument("--limit", type=_bounded(1, MAX_PAGE), default=50, help=f"at most this many (1-{MAX_PAGE})")
    listing.add_argument("--json", action="store_true", help='print only {"exports": [...], "count": N}')
    download = actions.add_parser("download", help="copy an export's file to DEST", parents=[locations])
    download.add_argument("export_id", metavar="ID")
    download.add_argument("dest", metavar="DEST",
                          help="a file (its folder must exist), an existing folder, or - for standard output")
    download.add_argument("--force", action="store_true", help="overwrite DEST if it exists")
    log = actions.add_parser("log", help="the access log: downloads, deletes, deliveries (who, what, when)",
                             parents=[locations])
    log.add_argument("--audience")
    log.add_argument("--limit", type=_bounded(1, MAX_PAGE), default=50, help=f"at most this many (1-{MAX_PAGE})")
    log.add_argument("--json", action="store_true", help='print only {"events": [...], "count": N}')
    delete = actions.add_parser("delete", help="delete an export's file, then its entry", parents=[locations])
    delete.add_argument("export_id", metavar="ID")
    delete.add_argument("--yes", action="store_true", help="do not ask (needed when not at a terminal)")

    housekeeping = commands.add_parser(
        "housekeeping", parents=[locations],
        help="what the sna_housekeeping DAG does: expire old exports, sweep failed runs' staging, reconcile",
    )
    housekeeping.add_argument("--repair", action="store_true",
                              help="delete entries whose file is gone and files without an entry")
    housekeeping.add_argument("--dry-run", action="store_true", help="report what would be done, change nothing")
    housekeeping.add_argument("--json", action="store_true", help="print only one JSON object")
    housekeeping.add_argument("--audiences", metavar="FOLDER", type=Path, default=None,
                              help="the audience files giving each retention (default: audiences_dir setting)")
    housekeeping.add_argument("--default-retention-days", type=_bounded(1, 36_500), default=None,
                              help="retention of exports without an audience file (default: the audience default)")
    housekeeping.add_argument("--staging-max-age-hours", type=_bounded(1, 720), default=None,
                              help="remove staging older than this (default: 24)")

    demo = commands.add_parser("demo-shop", help="write a realistic demo PrestaShop database")
    demo.add_argument("dest_url", metavar="DEST_URL", help="sqlite:////abs/shop.db or mysql+mysqldb://...")
    demo.add_argument("--customers", type=int, default=2000)
    demo.add_argument("--seed", type=int, default=42)
    demo.add_argument("--replace", action="store_true",
                      help="drop and rewrite the shop's tables if it already has customers")
    return parser


def _print_report(report: ExportReport, as_json: bool) -> None:
    if report.file:
        print(f"file: {report.file}")
    print(f"audience {report.audience} ({report.platform}, hashing {report.hashing}): "
          f"{report.rows} exported of {report.scanned} scanned" + (" (dry run: no file)" if report.dry_run else ""))
    if report.excluded:
        print("excluded:")
        width = max(len(reason) for reason in report.excluded)
        for reason, count in sorted(report.excluded.items(), key=lambda item: (-item[1], item[0])):
            print(f"  {reason:<{width}}  {count}")
    if report.fill_rates:
        print("filled: " + ", ".join(f"{column} {rate:.0%}" for column, rate in report.fill_rates.items()))
    for warning in report.warnings:
        print(f"warning: {warning}")
    delivery = report.delivery or DeliveryReport().to_dict()
    if report.delivery is not None:
        print(delivery_line(delivery))
    if as_json:
        document = {
            "export_id": report.export_id, "audience": report.audience, "platform": report.platform,
            "hashing": report.hashing, "file": report.file, "rows": report.rows, "scanned": report.scanned,
            "excluded": report.excluded, "warnings": report.warnings, "fill_rates": report.fill_rates,
            "delivery": delivery_json(delivery),
        }
        if report.dry_run:
            document["dry_run"] = True
        print(json.dumps(document, sort_keys=False))


def delivery_json(delivery: dict[str, Any]) -> dict[str, Any]:
    """The `delivery` object of `run --json` and `deliver --json` (a contract: keep its keys)."""
    keys = ("status", "added", "removed", "invalid", "requests", "mode", "destination", "delivered_at",
            "dry_run", "validate_only")
    return {key: delivery.get(key) for key in keys}


def delivery_line(delivery: dict[str, Any]) -> str:
    if delivery.get("dry_run") or delivery.get("validate_only"):
        what = "dry run, nothing sent" if delivery.get("dry_run") else "validated by the platform, nothing changed"
        return (f"delivery ({what}): {delivery['added']} to add, {delivery['removed']} to remove on "
                f"{delivery['destination']} ({delivery['mode']}), {delivery['requests']} request(s)")
    return (f"delivery: {delivery['status']} to {delivery['destination']} ({delivery['mode']}): "
            f"{delivery['added']} added, {delivery['removed']} removed, {delivery['invalid']} invalid, "
            f"{delivery['requests']} request(s)")


def _cmd_validate(args: argparse.Namespace, progress: Progress) -> int:
    paths = [Path(p) for p in args.paths]
    for path in paths:
        if not path.exists():
            raise ConfigError(f"{path}: no such file or folder")
    audiences, errors = load_audiences(paths)
    for error in errors:
        print(str(error), file=sys.stderr)
    print(f"{len(audiences)} valid audience(s), {len(errors)} error(s)")
    return EXIT_FAILED if errors else EXIT_OK


def _job(args: argparse.Namespace) -> ExportJob:
    audience = load_audience(args.audience)
    return ExportJob(audience, args.reference_date or datetime.now(UTC).date())


@contextmanager
def _naming_the_audience_file(path: str) -> Iterator[None]:
    """Configuration errors found while running an audience (an unknown group name, a table prefix, a
    suppression list) come from the shop, not the file: name the file, as file errors do."""
    try:
        yield
    except AudienceFileError:
        raise
    except ConfigError as error:
        raise ConfigError(f"{path}: {error}") from error


def _cmd_preview(args: argparse.Namespace, runtime: Runtime) -> int:
    job = _job(args)  # the audience file is checked before any location is touched
    pipeline = runtime.pipeline(preview_only=True)  # location errors name their location, not the file
    with _naming_the_audience_file(args.audience):
        report = pipeline.preview(job)
    _print_report(report, args.json)
    return EXIT_OK


def _cmd_run(args: argparse.Namespace, runtime: Runtime) -> int:
    job = _job(args)
    pipeline = runtime.pipeline()
    with _naming_the_audience_file(args.audience):
        report = pipeline.run(job, dry_run=args.dry_run, deliver=not args.no_deliver)
    _print_report(report, args.json)
    return EXIT_OK


def _cmd_deliver(args: argparse.Namespace, runtime: Runtime) -> int:
    """A recorded export to its platform, with the `delivery` block of its audience file."""
    store = _existing_store(runtime)
    if store is None:
        raise NotFoundError(f"export {args.export_id} does not exist")
    entry = store.get(args.export_id)
    folder = runtime.project_path(runtime.settings.audiences_dir, "audiences_dir")
    audience = find_audience(folder, entry.audience)
    report = runtime.pipeline().deliver_export(entry.id, audience, dry_run=args.dry_run,
                                               validate_only=args.validate_only)
    delivery = report.to_dict()
    print(f"export {entry.id} ({entry.audience}, {entry.reference_date})")
    print(delivery_line(delivery))
    if args.json:
        print(json.dumps({"export_id": entry.id, "audience": entry.audience, "delivery": delivery_json(delivery)}))
    return EXIT_OK


_LIST_HEADER = ("ID", "CREATED", "AUDIENCE", "PLATFORM", "HASHING", "REFERENCE", "ROWS/SCANNED", "DELIVERY", "FILTERS",
                "FILE")


def _filter_text(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, dict):
        return ",".join(f"{k}:{_filter_text(v)}" for k, v in value.items())
    if isinstance(value, (list, tuple)):
        shown = [_filter_text(v) for v in value[:2]] + ([f"+{len(value) - 2}"] if len(value) > 2 else [])
        return ",".join(shown)
    return str(value)


def compact_filters(filters: dict[str, Any]) -> str:
    """`{"consent": "newsletter", "countries": ["FR", "BE"]}` -> `consent=newsletter countries=FR,BE`: lists
    beyond two items end in `+N`, and the default `require_complete=yes` is left out (`--json` has all)."""
    shown = {key: value for key, value in filters.items() if not (key == "require_complete" and value is True)}
    return " ".join(f"{key}={_filter_text(value)}" for key, value in sorted(shown.items())) or "-"


def _entry_cells(entry: Any) -> tuple[str, ...]:
    return (entry.id, f"{entry.created_at:%Y-%m-%d %H:%M}", entry.audience, entry.platform, entry.hashing,
            str(entry.reference_date), f"{entry.rows}/{entry.scanned}", _delivery_cell(entry.delivery),
            compact_filters(entry.filters), entry.file_uri)


def _delivery_cell(delivery: Any) -> str:
    if delivery.status == "delivered":
        return f"delivered +{delivery.added}/-{delivery.removed}"
    return delivery.status


def _print_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Columns two spaces apart, as wide as their widest cell (the last one is not padded)."""
    widths = [max(len(row[i]) for row in (header, *rows)) for i in range(len(header) - 1)]
    for row in (header, *rows):
        print("  ".join([*(cell.ljust(width) for cell, width in zip(row, widths, strict=False)), row[-1]]))


def _existing_store(runtime: Runtime) -> ExportStore | None:
    """The export store of a registry that must exist already; None when its database has no table yet."""
    return runtime.store() if runtime.has_exports_table() else None


def _cmd_exports(args: argparse.Namespace, runtime: Runtime) -> int:
    store = _existing_store(runtime)
    if args.action == "list":
        return _list_exports(args, store)
    if args.action == "log":
        return _access_log(args, store)
    if store is None:
        raise NotFoundError(f"export {args.export_id} does not exist")
    if args.action == "download":
        return _download_export(args, store)
    return _delete_export(args, store)


def _list_exports(args: argparse.Namespace, store: ExportStore | None) -> int:
    entries = store.list(audience=args.audience, platform=args.platform, limit=args.limit) if store else []
    if args.json:  # one JSON object, the only line
        print(json.dumps({"exports": [entry_to_json(e) for e in entries], "count": len(entries)}))
    elif entries:
        _print_table(_LIST_HEADER, [_entry_cells(entry) for entry in entries])
    else:
        print("no exports")
    return EXIT_OK


def _access_log(args: argparse.Namespace, store: ExportStore | None) -> int:
    audiences = [args.audience] if args.audience else None
    events = store.access.list(audiences=audiences, limit=args.limit) if store else []
    if args.json:
        print(json.dumps({"events": [{**event.__dict__, "at": event.at.isoformat()} for event in events],
                          "count": len(events)}))
    elif events:
        _print_table(("AT", "ACTION", "EXPORT", "AUDIENCE", "BY", "VIA", "DETAIL"),
                     [(f"{e.at:%Y-%m-%d %H:%M:%S}", e.action, e.export_id or "-", e.audience, e.actor, e.via,
                       e.detail or "-") for e in events])
    else:
        print("no access recorded")
    return EXIT_OK


def _download_export(args: argparse.Namespace, store: ExportStore) -> int:
    entry = store.get(args.export_id)
    if args.dest == "-":  # the file itself on standard output, nothing else (for a pipe)
        _name, stream = store.open(entry.id)
        out = sys.stdout.buffer
        with stream as reader:
            shutil.copyfileobj(reader, out, length=1024 * 1024)
        out.flush()
        return EXIT_OK
    dest = Path(args.dest)
    target = dest / store.file_name(entry) if dest.is_dir() else dest
    if not target.parent.is_dir():
        raise NotFoundError(f"{target.parent}: the folder does not exist (create it first)")
    if target.exists() and not args.force:
        raise ConfigError(f"{target} already exists (pass --force to overwrite it)")
    path = store.download(entry.id, target)
    print(f"downloaded export {entry.id} to {path}")
    return EXIT_OK


def _confirmed(question: str) -> bool:
    """Asks on the terminal (standard error, so a redirected output stays clean); only y/yes is a yes."""
    print(f"{question} [y/N] ", end="", file=sys.stderr, flush=True)
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def _delete_export(args: argparse.Namespace, store: ExportStore) -> int:
    entry = store.get(args.export_id)
    if not args.yes:
        if not sys.stdin.isatty():
            raise ConfigError(f"export {entry.id}: not at a terminal to confirm; pass --yes to delete it")
        if not _confirmed(f"delete export {entry.id} (file {store.file_name(entry)})?"):
            print(f"sna: export {entry.id} not deleted", file=sys.stderr)
            return EXIT_FAILED
    store.delete(entry.id)
    print(f"deleted export {entry.id} ({entry.file_uri})")
    return EXIT_OK


def entry_to_json(entry: Any) -> dict[str, Any]:
    return {
        "export_id": entry.id, "audience": entry.audience, "platform": entry.platform, "hashing": entry.hashing,
        "filters": entry.filters, "reference_date": entry.reference_date.isoformat(),
        "created_at": entry.created_at.isoformat(), "file": entry.file_uri, "size": entry.size,
        "sha256": entry.sha256, "rows": entry.rows, "scanned": entry.scanned, "excluded": entry.excluded,
        "warnings": entry.warnings, "fill_rates": entry.fill_rates, "delivery": {
            "status": entry.delivery.status, "mode": entry.delivery.mode, "destination": entry.delivery.destination,
            "delivered_at": entry.delivery.delivered_at.isoformat() if entry.delivery.delivered_at else None,
            "added": entry.delivery.added, "removed": entry.delivery.removed, "invalid": entry.delivery.invalid,
            "requests": entry.delivery.requests},
    }


def _cmd_housekeeping(args: argparse.Namespace, runtime: Runtime) -> int:
    """The engine functions `sna_housekeeping` calls, in the same order, with the same inputs."""
    from sna import housekeeping as hk

    folder = runtime.project_path(args.audiences or runtime.settings.audiences_dir,
                                  "--audiences" if args.audiences else "audiences_dir")
    if folder.is_dir():
        audiences, errors = load_audiences([folder])
        problems = [str(error) for error in errors]
    else:
        audiences, problems = [], [f"{folder}: audiences folder does not exist"]
    store = runtime.store()
    store.require_entries_table()
    now = datetime.now(UTC)
    max_age = timedelta(hours=args.staging_max_age_hours) if args.staging_max_age_hours else hk.STAGING_MAX_AGE
    plan = hk.retention_plan(audiences, store.audiences(), config_complete=not problems,
                             default_days=args.default_retention_days or hk.DEFAULT_RETENTION_DAYS)
    expired = hk.expire_exports(store, plan, now, dry_run=args.dry_run)
    staging = store.sweep_staging(now, max_age, dry_run=args.dry_run)
    aborted = store.sweep_abandoned_writes(now, max_age, dry_run=args.dry_run)
    scratch = hk.sweep_scratch(runtime.settings.tmp_dir, now, max_age, dry_run=args.dry_run)
    mismatches = hk.reconcile(store, repair=args.repair, now=now, dry_run=args.dry_run)
    line = hk.summary(expired, staging, mismatches, aborted=aborted, dry_run=args.dry_run, repair=args.repair)
    if args.json:
        print(json.dumps({
            "expired": expired, "kept_audiences": sorted(plan.kept), "warnings": problems,
            "staging_removed": staging, "aborted_uploads": aborted, "scratch_removed": scratch, **mismatches,
            "dry_run": args.dry_run,
            "summary": line,
        }))
        return EXIT_OK
    would = "would delete" if args.dry_run else "deleted"
    for problem in problems:
        print(f"warning: {problem}")
    for name, why in sorted(plan.kept.items()):
        print(f"kept: exports of {name} ({why})")
    for export_id in expired:
        print(f"expired: {would} export {export_id}")
    for area in staging:
        print(f"staging: {'would remove' if args.dry_run else 'removed'} {area}")
    repaired = mismatches["repaired"] or (args.dry_run and args.repair)
    for export_id in mismatches["entries_without_file"]:
        print(f"mismatch: export {export_id} has no file" + (f" ({would} its entry)" if repaired else ""))
    for export_id in mismatches.get("entries_not_matching_file", []):
        print(f"mismatch: export {export_id} does not match its file" + (f" ({would} both)" if repaired else ""))
    for key in mismatches["files_without_entry"]:
        print(f"mismatch: file {key} has no entry" + (f" ({would} it)" if repaired else ""))
    print(line)
    return EXIT_OK


def _cmd_demo_shop(args: argparse.Namespace, progress: Progress) -> int:
    from sna_demo import write_demo_shop  # the demo package, only for this command

    if args.customers < 1:
        raise ConfigError("--customers: must be at least 1")
    progress.start("writing customers", args.customers)
    done = 0

    def advance(total_done: int) -> None:
        nonlocal done
        progress.advance(total_done - done)
        done = total_done

    summary = write_demo_shop(args.dest_url, customers=args.customers, seed=args.seed, progress=advance,
                              replace=args.replace)
    progress.finish()
    print(f"demo shop written: {summary.describe()}")
    return EXIT_OK


_CREATING_COMMANDS = {"run"}
# `deliver` writes the delivery state of an existing export: it creates no registry either
"""The only command that may create a registry (its file, folder and table): the others only read one,
or remove from one, and a missing registry is an error naming it rather than a new empty one."""

_COMMANDS = {
    "preview": _cmd_preview,
    "run": _cmd_run,
    "exports": _cmd_exports,
    "deliver": _cmd_deliver,
    "housekeeping": _cmd_housekeeping,
}
_LOCAL_COMMANDS = {
    "validate": _cmd_validate,
    "demo-shop": _cmd_demo_shop,
}
"""Commands that use no location of the settings: they run without a project folder too."""


def main(argv: Sequence[str] | None = None) -> int:
    """Runs one command; a reader that goes away early (`| head`, `less` quit) ends it quietly."""
    try:
        try:
            return _main(argv)
        finally:
            sys.stdout.flush()  # while a broken pipe can still be handled here, not at interpreter exit
    except BrokenPipeError:
        # Python's documented recipe: nothing more can reach the reader, and the pending output must
        # not be flushed into the closed pipe at exit (which would print a traceback).
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_FAILED


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    progress = _TqdmProgress() if sys.stderr.isatty() else None
    runtime: Runtime | None = None
    try:
        if args.command in _LOCAL_COMMANDS:
            load_settings()  # a bad setting is a one-line error here too
            return _LOCAL_COMMANDS[args.command](args, progress or NoProgress())
        runtime = Runtime.from_flags(  # reads the settings: a bad one is a one-line error too
            source_url=getattr(args, "source_url", None),
            storage_url=getattr(args, "storage_url", None),
            registry_url=getattr(args, "registry_url", None),
            progress=progress,
            create=args.command in _CREATING_COMMANDS,
        )
        runtime.actor = Actor.command_line()
        return _COMMANDS[args.command](args, runtime)
    except SnaError as error:
        print(f"sna: error: {error}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        print("sna: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        raise  # handled by main
    except Exception as error:  # noqa: BLE001 - the message could hold data: show the class only
        if os.environ.get("SNA_DEBUG"):
            traceback.print_exc()
        print(f"sna: internal error: {type(error).__name__} (set SNA_DEBUG=1 for details)", file=sys.stderr)
        return EXIT_FAILED
    finally:
        if runtime is not None:
            runtime.close()


if __name__ == "__main__":
    raise SystemExit(main())

"""The registry: export entries and run leases in one SQL database (SQLite, MySQL/MariaDB, PostgreSQL).

`tables` defines every table, `database` the engine, types and error wrapper they share, `schema`
the one path that creates and upgrades them (versioned migrations, safe under concurrency),
`entries` the export entries, `dry_runs` the dry runs (counts only); run leases live in `sna.locks`
on the same helpers.
"""

from sna.registry.entries import MAX_PAGE, Delivery, ExportEntry, Registry, new_export_id

__all__ = ["MAX_PAGE", "Delivery", "ExportEntry", "Registry", "new_export_id"]

"""The access log: every download, delete, delivery and refresh of an export, by whom, from where.

GDPR accountability: the merchant can show who took customer files out and when. Rows carry ids,
names of people or processes and counts only, never customer data; they are kept as long as the
exports of their audience (`retention_days`), then removed by housekeeping.
"""

from __future__ import annotations

import getpass
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from sna.registry.database import from_naive_utc, registry_errors, to_naive_utc
from sna.registry.tables import access_log

ACTIONS = ("download", "delete", "deliver", "refresh")


@dataclass(frozen=True)
class Actor:
    """Who acts: a person signed in to the UI, the OS user of the command line, a DAG run."""

    name: str
    via: str
    """`ui`, `cli`, `dag` or `engine`."""

    @classmethod
    def command_line(cls) -> Actor:
        try:
            return cls(getpass.getuser(), "cli")
        except (KeyError, OSError):
            return cls("unknown", "cli")


ENGINE = Actor("engine", "engine")


@dataclass(frozen=True)
class AccessEvent:
    at: datetime
    action: str
    export_id: str | None
    audience: str
    actor: str
    via: str
    detail: str = ""


class AccessLog:
    """Rows of `sna_access_log`, in the registry database (created by its migrations)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, action: str, *, audience: str, actor: Actor, export_id: str | None = None,
               detail: str = "", now: datetime | None = None) -> AccessEvent:
        if action not in ACTIONS:
            raise ValueError(f"unknown access action {action!r}")
        event = AccessEvent(now or datetime.now(UTC), action, export_id, audience, actor.name[:255], actor.via,
                            detail[:255])
        with registry_errors(self.engine, f"log the {action} of {export_id or audience}"), self.engine.begin() as c:
            c.execute(sa.insert(access_log).values(
                at=to_naive_utc(event.at), action=event.action, export_id=event.export_id,
                audience=event.audience, actor=event.actor, via=event.via, detail=event.detail))
        return event

    def list(self, *, audiences: Collection[str] | None = None, limit: int = 50, offset: int = 0
             ) -> list[AccessEvent]:
        """Newest first; `audiences` restricts to those a user may see."""
        query = sa.select(access_log).order_by(access_log.c.at.desc(), access_log.c.id.desc())
        if audiences is not None:
            query = query.where(access_log.c.audience.in_(sorted(audiences)))
        with registry_errors(self.engine, "read the access log"), self.engine.connect() as connection:
            rows = connection.execute(query.limit(limit).offset(offset)).all()
        return [AccessEvent(from_naive_utc(r.at), r.action, r.export_id, r.audience, r.actor, r.via, r.detail)
                for r in rows]

    def audiences(self) -> list[str]:
        """Every audience with a row (also those whose exports are all deleted: their deletes are rows)."""
        query = sa.select(access_log.c.audience).distinct().order_by(access_log.c.audience)
        with registry_errors(self.engine, "read the access log"), self.engine.connect() as connection:
            return list(connection.execute(query).scalars())

    def expire(self, audience: str, before: datetime) -> int:
        """Removes the audience's rows older than `before` (the retention of its exports)."""
        with registry_errors(self.engine, "expire the access log"), self.engine.begin() as connection:
            result = connection.execute(sa.delete(access_log).where(
                access_log.c.audience == audience, access_log.c.at < to_naive_utc(before)))
        return result.rowcount or 0

"""What each stage of an export hands the next: typed, frozen, counts and references only.

The same objects are the staging documents (`plan.json`, `parts/part-<n>.json`, `validate.json`,
`render.json`, `publish.json`; `extract.json` for the single-process stages) and, through `to_json`,
the DAG tasks' return values (XCom): never customer data.
Each one also knows how to stand for itself from the recorded export (`of_entry`), for a stage
rerun after the run already finished (see `ExportPipeline._stage_input`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any, ClassVar, Self

from sna.registry import ExportEntry


class Handoff:
    """A stage's output: its staging document name, and JSON both ways."""

    document: ClassVar[str]

    def to_json(self) -> dict[str, Any]:
        """Plain JSON values (tuples become lists, mappings dicts)."""
        return {name: _plain(value) for name, value in asdict(self).items()}  # type: ignore[call-overload]

    @classmethod
    def from_json(cls, document: Mapping[str, Any]) -> Self:
        """Reads the document back; keys it does not know are ignored, missing ones take their default."""
        known = {f.name for f in fields(cls)}  # type: ignore[arg-type]
        return cls(**{k: v for k, v in document.items() if k in known})  # type: ignore[call-arg]


def _plain(value: Any) -> Any:
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class ExtractFacts(Handoff):
    """What `extract` read: how many customers, and the audience's default groups as this shop's ids."""

    document: ClassVar[str] = "extract.json"
    scanned: int
    default_group_ids: tuple[int, ...] | None = None
    staged: str | None = None
    """The staged raw customers' URI (None when the stages ran in one process)."""
    warnings: tuple[str, ...] = ()
    """What the reader had to say (a subscriber table that is absent), counts and names only."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "warnings", tuple(self.warnings))
        if self.default_group_ids is not None:
            object.__setattr__(self, "default_group_ids", tuple(int(i) for i in self.default_group_ids))


@dataclass(frozen=True)
class SelectionStats(Handoff):
    """What `validate` decided: the accounting identity `scanned = exported + sum(excluded)` holds."""

    document: ClassVar[str] = "validate.json"
    scanned: int
    exported: int
    excluded: Mapping[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "excluded", {str(k): int(v) for k, v in sorted(self.excluded.items())})
        object.__setattr__(self, "warnings", tuple(self.warnings))

    @classmethod
    def of_entry(cls, entry: ExportEntry) -> SelectionStats:
        return cls(scanned=entry.scanned, exported=entry.rows, excluded=entry.excluded, warnings=entry.warnings)


@dataclass(frozen=True)
class RenderedFile(Handoff):
    """The staged CSV `render` wrote: its rows, size, digest, and per column how many rows have a value."""

    document: ClassVar[str] = "render.json"
    rows: int
    size: int
    sha256: str
    staged: str | None = None
    filled: Mapping[str, int] = field(default_factory=dict)

    def fill_rates(self) -> dict[str, float]:
        """Per file column, the share of rows with a value (4 decimals): how much a platform can match on."""
        return {column: round(count / self.rows, 4) if self.rows else 0.0 for column, count in self.filled.items()}

    @classmethod
    def of_entry(cls, entry: ExportEntry) -> RenderedFile:
        return cls(rows=entry.rows, size=entry.size, sha256=entry.sha256)


@dataclass(frozen=True)
class PublishedFile(Handoff):
    """The file `publish` put under its own key, and the export id that key carries."""

    document: ClassVar[str] = "publish.json"
    file: str
    key: str
    size: int
    sha256: str
    export_id: str
    filled: Mapping[str, int] = field(default_factory=dict)

    @classmethod
    def of_entry(cls, entry: ExportEntry) -> PublishedFile:
        return cls(file=entry.file_uri, key=entry.file_key, size=entry.size, sha256=entry.sha256,
                   export_id=entry.id)

    @classmethod
    def of_rendered(cls, rendered: RenderedFile, *, file: str, key: str, export_id: str) -> PublishedFile:
        return cls(file=file, key=key, size=rendered.size, sha256=rendered.sha256, export_id=export_id,
                   filled=rendered.filled)

    def fill_rates(self, rows: int) -> dict[str, float]:
        return RenderedFile(rows=rows, size=self.size, sha256=self.sha256, filled=self.filled).fill_rates()


@dataclass(frozen=True)
class PartitionPlan(Handoff):
    """What `plan` decided: the audience's groups as this shop's ids, and the partitions of customer
    ids (index, first id, last id; None: open on that side) that the mapped tasks read."""

    document: ClassVar[str] = "plan.json"
    counted: int
    partitions: tuple[tuple[int, int | None, int | None], ...]
    default_group_ids: tuple[int, ...] | None = None
    groups_any_ids: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "partitions", tuple(
            (int(index), None if first is None else int(first), None if last is None else int(last))
            for index, first, last in self.partitions))
        for name in ("default_group_ids", "groups_any_ids"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, tuple(int(i) for i in getattr(self, name)))

    def descriptors(self) -> list[dict[str, Any]]:
        """One small document per partition, what each mapped task receives: its id range and the
        staging names of its part, never rows."""
        return [{"index": index, "first_id": first, "last_id": last, "staged": PartSummary.stem(index)}
                for index, first, last in self.partitions]


@dataclass(frozen=True)
class PartSummary(Handoff):
    """What one partition's task staged: its counts (the part's CSV and ranking facts are files
    beside this document, `parts/part-<n>.*`)."""

    document: ClassVar[str] = "parts/part-<index>.json"  # one per partition: `document_of`
    index: int
    scanned: int
    candidates: int
    excluded: Mapping[str, int] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    used_reader: str | None = None
    rendered: bool = True
    """False for a dry run's partition: counts and ranking facts only, no part of the file."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "excluded", {str(k): int(v) for k, v in sorted(self.excluded.items())})
        object.__setattr__(self, "warnings", tuple(self.warnings))

    @staticmethod
    def stem(index: int) -> str:
        """The staging names of partition `index` without their suffix (`.json`, `.npz`, `.csv`)."""
        return f"parts/part-{index:06d}"

    @classmethod
    def document_of(cls, index: int) -> str:
        return f"{cls.stem(index)}.json"

"""The platforms' file layouts: header, customer value column, required fields.

Apart from `sna.normalize.profiles` (which reads them) because the DAG docs show them at parse time,
and that module imports pandas and numpy: a DAG file's parse imports no data library.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FileLayout:
    platform: str
    header: tuple[str, ...]
    required_fields: tuple[str, ...]
    value_column: str | None = None

    def file_header(self, *, with_value: bool) -> tuple[str, ...]:
        if not with_value:
            return self.header
        if self.value_column is None:
            raise ValueError(f"the {self.platform} file has no customer value column")
        return (*self.header, self.value_column)


GOOGLE = FileLayout(
    platform="google",
    header=("Email", "Phone", "First Name", "Last Name", "Country", "Zip"),
    required_fields=("email", "phone", "first_name", "last_name", "country", "zip"),
)
META = FileLayout(
    platform="meta",
    header=("email", "phone", "fn", "ln", "zip", "ct", "st", "country", "dob", "doby", "gen", "age"),
    required_fields=("email", "phone", "first_name", "last_name", "zip", "city", "country", "birthday"),
    value_column="value",
)
LAYOUTS = {layout.platform: layout for layout in (GOOGLE, META)}


def layout_for(platform: str) -> FileLayout:
    """The layout of a platform name of the audience file (`google` or `meta`)."""
    try:
        return LAYOUTS[platform]
    except KeyError:
        raise ValueError(f"unknown platform {platform!r}; expected one of {sorted(LAYOUTS)}") from None

"""The errors SNA raises on purpose.

Every message is one line that names what is wrong (a file and key, a database, a storage
location) and never carries customer data: counts and ids only. Two families matter to callers:
`PermanentError` (configuration, data contract: retrying cannot help) and `TransientError`
(database, storage, registry: a retry may succeed). The command line prints `str(error)` and exits
non-zero; the DAGs retry only transient errors.
"""

from __future__ import annotations


class SnaError(Exception):
    """Base class: a failure the user should see as one clear line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


class PermanentError(SnaError):
    """Retrying the same run cannot succeed until something is changed by a person."""


class TransientError(SnaError):
    """A service failed; the same run may succeed later."""


class ConfigError(PermanentError):
    """An audience file or a setting is invalid."""


class AudienceFileError(ConfigError):
    """One error in one audience file, located by file and key."""

    def __init__(self, file: str, key: str, reason: str) -> None:
        self.file = str(file)
        self.key = key
        self.reason = reason
        super().__init__(f"{self.file}: {key}: {reason}" if key else f"{self.file}: {reason}")


class DataContractError(PermanentError):
    """The data broke an invariant of the export (for example the accounting identity)."""


class SourceError(TransientError):
    """The shop database could not be read."""


class SourceSchemaError(ConfigError):
    """The shop database lacks a table SNA reads (a wrong table prefix): permanent."""


class StorageError(TransientError):
    """The file storage (local folder or S3) failed."""


class RegistryError(TransientError):
    """The export registry database failed."""


class NotFoundError(PermanentError):
    """An export id (or a file) that does not exist."""

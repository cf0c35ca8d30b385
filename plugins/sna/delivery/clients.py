"""The platform client of an audience's `delivery` block, with credentials that never live in YAML.

Credentials come from the environment (`SNA_GOOGLE_CREDENTIALS`: a service-account JSON file, or
`anonymous` for a loopback endpoint; `SNA_META_ACCESS_TOKEN`), or from the Airflow connections
`sna_google` / `sna_meta` through the Airflow layer, which passes them in as `Credentials`.
Endpoints come from the settings (`SNA_GOOGLE_DATAMANAGER_URL`, `SNA_META_GRAPH_URL`,
`SNA_META_API_VERSION`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from sna.audience import Audience
from sna.delivery.base import PlatformClient
from sna.errors import ConfigError
from sna.settings import Settings


@dataclass(frozen=True)
class Credentials:
    """Secrets for the platforms; `repr` never shows them."""

    google: object | None = None
    """A google.auth credentials object, a service-account file path, or "anonymous"."""
    meta_access_token: str | None = None

    def __repr__(self) -> str:
        return (f"Credentials(google={'set' if self.google else 'unset'}, "
                f"meta_access_token={'set' if self.meta_access_token else 'unset'})")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Credentials:
        return cls(google=environ.get("SNA_GOOGLE_CREDENTIALS") or None,
                   meta_access_token=environ.get("SNA_META_ACCESS_TOKEN") or None)


def destination_id(audience: Audience) -> str:
    """The destination of an audience's delivery, as its client names it (no credentials needed)."""
    if audience.delivery is None:
        raise ConfigError(f"audience {audience.name} has no delivery block: nothing to deliver to")
    if audience.platform == "google":
        spec = audience.delivery.google
        assert spec is not None  # checked by the audience model
        return f"google:{spec.operating_account_id}:{spec.user_list_id}"
    assert audience.delivery.meta is not None
    return f"meta:{audience.delivery.meta.custom_audience_id}"


def open_client(audience: Audience, settings: Settings, credentials: Credentials) -> PlatformClient:
    """The client of the audience's destination; a ConfigError naming what is missing otherwise."""
    if audience.delivery is None:
        raise ConfigError(f"audience {audience.name} has no delivery block: nothing to deliver to")
    if audience.platform == "google":
        from sna.delivery.google import GoogleDataManagerClient

        spec = audience.delivery.google
        assert spec is not None  # checked by the audience model
        if not credentials.google:
            raise ConfigError("google delivery: no credentials (set SNA_GOOGLE_CREDENTIALS to a service-account "
                              "JSON file, or define the Airflow connection sna_google)")
        return GoogleDataManagerClient(
            spec.operating_account_id, spec.user_list_id, login_account_id=spec.login_account_id,
            consent=spec.consent.model_dump(), credentials=credentials.google,
            endpoint=settings.google_datamanager_url, poll_interval=settings.google_poll_seconds,
            poll_timeout=settings.google_poll_timeout_seconds,
        )
    from sna.delivery.meta import DEFAULT_API_VERSION, MetaAudienceClient

    spec = audience.delivery.meta
    assert spec is not None
    if not credentials.meta_access_token:
        raise ConfigError("meta delivery: no access token (set SNA_META_ACCESS_TOKEN, or define the Airflow "
                          "connection sna_meta with the token as its password)")
    return MetaAudienceClient(spec.custom_audience_id, credentials.meta_access_token,
                              graph_url=settings.meta_graph_url,
                              api_version=settings.meta_api_version or DEFAULT_API_VERSION)

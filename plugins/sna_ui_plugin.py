"""Registers the "Audience exports" page (Browse menu) with Airflow.

Kept tiny and at the top of plugins/ because Airflow imports every file of this folder as a
top-level module; the code lives in the package `sna_ui`, which .airflowignore hides from that walk.
(It cannot be named `sna_ui.py`: the loader would register it as module `sna_ui`, shadowing the package.)
"""

from airflow.plugins_manager import AirflowPlugin

from sna_ui.app import create_app

URL_PREFIX = "/sna-exports"


class SnaExportsPlugin(AirflowPlugin):
    name = "sna_exports"
    # AirflowPlugin reads these class attributes (lists by its API).
    fastapi_apps = [{"app": create_app(), "url_prefix": URL_PREFIX, "name": "Audience exports"}]  # noqa: RUF012
    external_views = [  # noqa: RUF012
        {
            "name": "Audience exports",
            "href": URL_PREFIX.lstrip("/") + "/",
            "url_route": URL_PREFIX.lstrip("/"),
            "destination": "nav",
            "category": "browse",
        }
    ]

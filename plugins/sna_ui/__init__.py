"""The "Audience exports" page inside the Airflow UI: list, inspect, download and delete exports.

A FastAPI app (`sna_ui.app.create_app`) mounted by the small plugin file `plugins/sna_ui_plugin.py`.
Nothing here runs at import time; the export store is built on first use.
"""

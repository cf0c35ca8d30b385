"""End to end in a real browser: Airflow's API server with the plugin, headless Debian Chromium.

A demo shop is exported by the engine into a temporary folder and SQLite registry, which the API
server reads through SNA_STORAGE_URL / SNA_REGISTRY_URL. The admin signs in on Airflow's login page,
opens "Audience exports" inside the Airflow UI, downloads one file and deletes another; the viewer
sees the list without those actions. Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from tests.fixtures.processes import airflow_api_server

PROJECT = Path(__file__).resolve().parents[2]
ARTIFACTS = PROJECT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
PASSWORDS = {"admin": "admin-e2e-pw", "viewer": "viewer-e2e-pw"}

pytestmark = pytest.mark.slow
EXPORT_ROWS = "table.exports:not(.dry-runs) tbody tr"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """Two audiences exported on two days by the real engine from a SQLite demo shop."""
    from sna.audience import load_audience
    from sna.pipeline import ExportJob
    from sna.runtime import Runtime
    from sna.settings import Locations, load_settings
    from sna_demo import write_demo_shop

    folder = tmp_path_factory.mktemp("sna-e2e")
    locations = Locations(f"sqlite:///{folder / 'shop.db'}", (folder / "exports").as_uri(),
                          f"sqlite:///{folder / 'registry.db'}")
    write_demo_shop(locations.source_url.render_as_string(), customers=400, as_of=date(2024, 6, 1))
    runtime = Runtime(locations, load_settings(PROJECT), PROJECT)
    for name in ("newsletter_meta", "vip_google"):
        audience = load_audience(PROJECT / "config" / "audiences" / f"{name}.yaml")
        for day in (1, 2):
            job = ExportJob(audience, date(2024, 6, day))
            if name == "vip_google" and day == 2:  # a manual run with the trigger form's one-off settings
                job = job.with_overrides(hashing="sha256", require_complete=False)
            runtime.pipeline().run(job)
        if name == "newsletter_meta":
            runtime.pipeline().run(ExportJob(audience, date(2024, 6, 3)), dry_run=True)
    runtime.close()
    return folder, locations, runtime.store()


@pytest.fixture(scope="module")
def api_server(demo, tmp_path_factory):
    """`airflow api-server` on a free port with the project's plugins folder; stopped with its group."""
    _, locations, _ = demo
    home = tmp_path_factory.mktemp("airflow-home")
    (home / "simple_auth_manager_passwords.json.generated").write_text(json.dumps(PASSWORDS))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SNA_"))}
    env.update(
        PATH=f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
        AIRFLOW_HOME=str(home),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=f"sqlite:///{home / 'airflow.db'}",
        AIRFLOW__CORE__PLUGINS_FOLDER=str(PROJECT / "plugins"),
        AIRFLOW__CORE__DAGS_FOLDER=str(home / "dags"),
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__AUTH_MANAGER="airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager",
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin,viewer:viewer",
        AIRFLOW__API_AUTH__JWT_SECRET="sna-e2e-" + "fedcba9876543210" * 5,
        SNA_STORAGE_URL=locations.storage_url,
        SNA_REGISTRY_URL=locations.registry_url.render_as_string(),
        PYTHONPATH=os.pathsep.join([str(PROJECT / "plugins"), str(PROJECT)]),  # this checkout, not the venv's
    )
    subprocess.run(["airflow", "db", "migrate"], env=env, check=True, capture_output=True, timeout=180)
    with airflow_api_server(env, home / "api-server.log") as base:
        yield base


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield chromium
        chromium.close()


def _sign_in(browser, base: str, user: str):
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.goto(f"{base}/")
    page.get_by_label("Username").fill(user)
    page.get_by_label("Password").fill(PASSWORDS[user])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/", timeout=30_000)
    return context, page


def test_admin_lists_downloads_and_deletes_inside_the_airflow_ui(demo, api_server, browser):
    _, _, store = demo
    ARTIFACTS.mkdir(exist_ok=True)
    entries = store.registry.list(limit=100)
    assert len(entries) == 4
    kept, doomed = entries[0], entries[-1]
    context, page = _sign_in(browser, api_server, "admin")
    page.goto(f"{api_server}/plugin/sna-exports")
    frame = page.frame_locator("iframe")
    rows = frame.locator(EXPORT_ROWS)
    rows.first.wait_for(timeout=30_000)
    assert rows.count() == 4
    assert frame.locator("p.count").inner_text() == "4 exports, newest first."
    assert "one-off: hashing sha256" in frame.locator(f'tr[data-export-id="{kept.id}"]').inner_text()
    assert "dry run: no file" in frame.locator("table.dry-runs tbody tr").first.inner_text()
    page.screenshot(path=ARTIFACTS / "audience-exports.png")

    with page.expect_download() as download_info:
        frame.locator(f'tr[data-export-id="{kept.id}"] a.download').click()
    download = download_info.value
    assert download.suggested_filename == store.file_name(kept)
    with store.storage.open_reader(kept.file_key) as stored:
        assert Path(download.path()).read_bytes() == stored.read()

    frame.locator(f'tr[data-export-id="{doomed.id}"] a.delete').click()
    frame.get_by_role("heading", name="Delete this export?").wait_for()
    frame.get_by_role("button", name="Delete").click()
    frame.locator("p.notice").wait_for()
    assert "was deleted" in frame.locator("p.notice").inner_text()
    assert frame.locator(EXPORT_ROWS).count() == 3
    (plugin_frame,) = page.main_frame.child_frames
    page.wait_for_function("() => !document.querySelector('iframe').contentWindow.location.search"
                           ".includes('notice')", timeout=10_000)
    assert "notice" not in plugin_frame.url, "a reload would announce the deletion again"
    assert store.registry.get(doomed.id) is None
    assert not store.storage.exists(doomed.file_key)
    assert store.registry.get(kept.id) is not None

    frame.locator(f'tr[data-export-id="{kept.id}"] td a').first.click()
    frame.locator("svg.chart.size rect").first.wait_for()
    heading = frame.locator("section.audience h2").inner_text()
    assert "hashing none" in heading and "complete records required" in heading, heading  # as its file says
    assert frame.get_by_role("button", name="Refresh now").count() == 1
    page.screenshot(path=ARTIFACTS / "audience-exports-audience.png")
    context.close()


def test_viewer_sees_the_list_without_download_or_delete(demo, api_server, browser):
    context, page = _sign_in(browser, api_server, "viewer")
    page.goto(f"{api_server}/plugin/sna-exports")
    frame = page.frame_locator("iframe")
    frame.locator(EXPORT_ROWS).first.wait_for(timeout=30_000)
    assert frame.locator(EXPORT_ROWS).count() >= 3
    assert frame.locator("a.download").count() == 0 and frame.locator("a.delete").count() == 0
    frame.locator(f"{EXPORT_ROWS} td a").first.click()
    frame.locator("svg.chart.size rect").first.wait_for()
    assert frame.get_by_role("button", name="Refresh now").count() == 0, "a viewer cannot trigger the DAG"
    context.close()

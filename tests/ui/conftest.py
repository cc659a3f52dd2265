"""Fixtures for the browser test: one synced partition in a fresh DAGSTER_HOME, the webserver on
that home, and headless Chromium (Debian's package, driven by Playwright).

The sync runs in process against the loopback sandboxes, as `tests/assets` do; the webserver is a
real `dagster-webserver` process. Screenshots and the webserver's log go to ARTIFACTS.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
from playwright.sync_api import Browser, Page

from tests.ui.ui_world import (
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    Webserver,
    free_port,
    start_webserver,
    stop,
    sync_one_partition,
    wait_until_loaded,
)

ARTIFACTS_USED = pytest.StashKey[bool]()
CALL_FAILED = pytest.StashKey[bool]()


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if terminalreporter.config.stash.get(ARTIFACTS_USED, False):
        terminalreporter.write_line(f"Dagster UI screenshots: {ARTIFACTS}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    report = yield
    if report.when == "call":
        item.stash[CALL_FAILED] = report.failed
    return report


@pytest.fixture(scope="session")
def artifacts(pytestconfig: pytest.Config) -> Path:
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    pytestconfig.stash[ARTIFACTS_USED] = True
    return ARTIFACTS


@pytest.fixture(scope="session")
def chromium() -> Path:
    if not CHROMIUM.exists():
        pytest.fail(
            f"Chromium is missing at {CHROMIUM}: `make test` (or `make chromium`) installs it "
            "with apt-get install -y chromium"
        )
    return CHROMIUM


@pytest.fixture(scope="module")
def ui_instance(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dg.DagsterInstance]:
    """A fresh DAGSTER_HOME; opening it here creates its storage before the webserver opens it."""
    home = tmp_path_factory.mktemp("dagster-ui-home")
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        yield instance


@pytest.fixture(scope="module")
def webserver(
    chromium: Path,
    ui_instance: dg.DagsterInstance,
    attio_sandbox_server: tuple[Any, str],
    salesforce_server: tuple[Any, str, Any],
    artifacts: Path,
) -> Iterator[Webserver]:
    """The webserver on the instance, which holds one synced partition by the time this yields
    (the sync runs while the code location loads, as both take a while)."""
    url = f"http://127.0.0.1:{(port := free_port())}"
    log = artifacts / "webserver.log"
    process = start_webserver(Path(ui_instance.root_directory), port, log)
    try:
        world = sync_one_partition(ui_instance, attio_sandbox_server, salesforce_server)
        wait_until_loaded(url, process, log)
        # A local webserver greets a new instance with a "Join the community" dialog over every
        # page; the instance records it as seen, as the dialog's Skip button does.
        httpx.post(
            f"{url}/graphql", json={"query": "mutation { setNuxSeen }"}, timeout=10
        ).raise_for_status()
        yield Webserver(url=url, world=world)
    finally:
        stop(process)


@pytest.fixture(scope="module")
def browser(chromium: Path, webserver: Webserver) -> Iterator[Browser]:
    # Playwright's sync API keeps an event loop running on this thread, and Dagster's async
    # assets need one of their own, so the sync (behind `webserver`) runs before Playwright starts.
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(
    request: pytest.FixtureRequest, browser: Browser, webserver: Webserver, artifacts: Path
) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, base_url=webserver.url)
    context.set_default_timeout(20_000)
    tab = context.new_page()
    try:
        yield tab
        # What the browser showed when a check failed is the first thing to look at.
        if request.node.stash.get(CALL_FAILED, False):
            name = re.sub(r"[^\w.-]+", "_", request.node.name)
            tab.screenshot(path=str(artifacts / f"FAILED-{name}.png"))
            (artifacts / f"FAILED-{name}.html").write_text(tab.content())
    finally:
        context.close()

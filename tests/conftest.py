"""Shared fixtures: the store on SQLite and on PostgreSQL, and sandboxes served over real sockets.

Store tests take the `db_url` fixture and run once per engine. PostgreSQL is the machine's own
server (`REVOPS_TEST_POSTGRES_URL`, default the local trust-auth server); each test session gets a
database of its own, dropped at the end. `REVOPS_TEST_ENGINES=sqlite` leaves PostgreSQL out (the
tests are then not collected, rather than skipped and counted).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from revops_pipelines.store import engine as store_engine
from revops_pipelines.store import rate_budget as budget_store
from revops_pipelines.store.tables import metadata
from tests.postgres import fresh_database

ENGINES = [e.strip() for e in os.environ.get("REVOPS_TEST_ENGINES", "sqlite,postgresql").split(",")]

# `make test` runs two pytest-xdist workers (`--dist loadgroup`). The tests that start daemons,
# workers and killed processes, or time what the sandbox counts per second, are split into two
# groups that each run on one worker, one test after the other, while the rest is shared out; the
# Redis cache tests share keys, so they too run on one worker.
XDIST_GROUPS = {
    "tests/crash/": "processes-a",
    "tests/infra/test_shared_budget.py": "processes-a",
    "tests/deploy/": "processes-b",
    "tests/celery/": "processes-b",
    "tests/cli/": "processes-b",
    "tests/ui/": "processes-b",
    "tests/resources/test_attio_cache.py": "redis-cache",
}


# tryfirst: pytest-xdist's own hook turns the marks into the node ids' `@group` suffix that
# `loadgroup` schedules by; a mark added after it has no effect.
@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        group = next((g for p, g in XDIST_GROUPS.items() if item.nodeid.startswith(p)), None)
        if group is not None:
            item.add_marker(pytest.mark.xdist_group(group))


UNGROUPED = pytest.StashKey[list[str]]()


def pytest_collection_finish(session: pytest.Session) -> None:
    """On a `loadgroup` worker, every grouped test's node id must carry its `@group` suffix:
    without it xdist spreads a group over both workers (tests that share Redis keys or time the
    sandbox then run at once), and nothing else would say so."""
    if getattr(session.config.option, "loadgroup", False):
        session.config.stash[UNGROUPED] = [
            item.nodeid
            for item in session.items
            if item.get_closest_marker("xdist_group") is not None and "@" not in item.nodeid
        ]


@pytest.fixture(scope="session", autouse=True)
def xdist_groups_in_effect(request: pytest.FixtureRequest) -> None:
    ungrouped = request.config.stash.get(UNGROUPED, [])
    if ungrouped:
        pytest.fail(
            f"pytest-xdist's loadgroup ignores the xdist_group of {len(ungrouped)} tests "
            f"(first: {ungrouped[0]}): see pytest-dev/pytest-xdist#1386 and pyproject.toml"
        )


@pytest.fixture(scope="session", autouse=True)
def state_outside_the_checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The default state directory of the session's own: what a test leaves there (the default
    SQLite store, and the rate budgets kept in it once the definitions are loaded) never goes
    to the checkout's `.revops/`."""
    with pytest.MonkeyPatch.context() as patch:
        if not os.environ.get(store_engine.STATE_DIR_ENV):
            patch.setenv(store_engine.STATE_DIR_ENV, str(tmp_path_factory.mktemp("revops_state")))
        yield


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, dropped afterwards."""
    hint = "start it or set REVOPS_TEST_ENGINES=sqlite to leave the PostgreSQL runs out"
    with fresh_database("revops_test", hint) as url:
        yield url.render_as_string(hide_password=False)
        store_engine.dispose_all()
        budget_store.dispose_all()


@pytest.fixture(scope="session")
def postgres_dagster_url() -> Iterator[str]:
    """A database of its own for the Dagster instance's tables (runs, event log, schedules)."""
    with fresh_database("revops_dagster", "start it for the Dagster instance tests") as url:
        yield url.set(drivername="postgresql+psycopg2").render_as_string(hide_password=False)


@pytest.fixture
def dagster_instance(request: pytest.FixtureRequest, db_url: str) -> Iterator[object]:
    """A Dagster instance on the same engine as `db_url`: SQLite, or dagster-postgres."""
    import dagster as dg

    if db_url.startswith("postgresql"):
        url = request.getfixturevalue("postgres_dagster_url")
        overrides = {"storage": {"postgres": {"postgres_url": url}}}
        with dg.instance_for_test(overrides=overrides) as instance:
            yield instance
    else:
        with dg.instance_for_test() as instance:
            yield instance


def _truncate_all(url: str) -> None:
    engine = store_engine.get_engine(url)
    names = ", ".join(f'"{t.name}"' for t in metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(sa.text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=ENGINES)
def db_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A migrated, empty store; the test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'revops.db'}"
        store_engine.get_engine(url)
        yield url
        store_engine.dispose_all()
        budget_store.dispose_all()
    elif request.param == "postgresql":
        url = request.getfixturevalue("postgres_url")
        _truncate_all(url)
        yield url
    else:
        raise ValueError(f"unknown engine {request.param!r} in REVOPS_TEST_ENGINES")


@pytest.fixture(scope="session")
def attio_sandbox_server() -> Iterator[tuple[object, str]]:
    """The Attio sandbox on a real loopback socket, shared by the session and reset per test."""
    from revops_sandbox.attio import AttioSandbox
    from revops_sandbox.server import serve_in_thread

    sandbox = AttioSandbox(api_keys=(ATTIO_TEST_KEY,))
    with serve_in_thread(sandbox.app) as server:
        yield sandbox, server.url


ATTIO_TEST_KEY = "sandbox-attio-key"


@pytest.fixture
def attio_sandbox(attio_sandbox_server: tuple[object, str]) -> Iterator[object]:
    """A freshly seeded Attio sandbox with the full schema, default budgets and no faults."""
    import httpx

    sandbox, url = attio_sandbox_server
    with httpx.Client(base_url=url) as admin:
        admin.post("/_sandbox/reset").raise_for_status()
        admin.delete("/_sandbox/faults").raise_for_status()
        admin.post(
            "/_sandbox/config",
            json={"write_rate": 25.0, "read_rate": 100.0, "latency_ms": 0.0},
        ).raise_for_status()
    sandbox.url = url  # type: ignore[attr-defined]
    sandbox.api_url = f"{url}/v2"  # type: ignore[attr-defined]
    yield sandbox


@pytest.fixture(scope="session")
def slack_sandbox_server() -> Iterator[tuple[object, str]]:
    """The Slack sandbox on a real loopback socket, shared by the session."""
    from revops_sandbox.server import serve_in_thread
    from revops_sandbox.slack import SlackSandbox

    sandbox = SlackSandbox()
    with serve_in_thread(sandbox.app) as server:
        yield sandbox, server.url


@pytest.fixture
def slack_sandbox(slack_sandbox_server: tuple[object, str]) -> object:
    """The Slack sandbox, emptied, with a fast channel rate; `.url` is its root."""
    sandbox, url = slack_sandbox_server
    sandbox.reset()  # type: ignore[attr-defined]
    sandbox.configure(channel_rate=100.0, burst=100)  # type: ignore[attr-defined]
    sandbox.url = url  # type: ignore[attr-defined]
    return sandbox


@pytest.fixture(scope="module")
def side_systems() -> Iterator[dict[str, tuple[object, str]]]:
    """The Slack, Outreach, enrichment and Salesloft sandboxes, served for one test module:
    name -> (sandbox, root URL). Tests reset the ones they use."""
    from revops_sandbox.enrichment import EnrichmentSandbox
    from revops_sandbox.outreach import OutreachSandbox
    from revops_sandbox.salesloft import SalesloftSandbox
    from revops_sandbox.server import serve_in_thread
    from revops_sandbox.slack import SlackSandbox

    slack, outreach, enrichment = SlackSandbox(), OutreachSandbox(), EnrichmentSandbox()
    salesloft = SalesloftSandbox()
    with (
        serve_in_thread(slack.app) as slack_server,
        serve_in_thread(outreach.app) as outreach_server,
        serve_in_thread(enrichment.app) as enrichment_server,
        serve_in_thread(salesloft.app) as salesloft_server,
    ):
        yield {
            "slack": (slack, slack_server.url),
            "outreach": (outreach, outreach_server.url),
            "enrichment": (enrichment, enrichment_server.url),
            "salesloft": (salesloft, salesloft_server.url),
        }


class SwitchableApp:
    """An ASGI app whose target can be replaced, so one TLS server serves a fresh sandbox."""

    def __init__(self) -> None:
        self.target: object = None

    async def __call__(self, scope, receive, send) -> None:  # type: ignore[no-untyped-def]
        await self.target(scope, receive, send)  # type: ignore[operator]


@pytest.fixture(scope="session")
def salesforce_server(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[SwitchableApp, str, object]]:
    """One HTTPS loopback server with a throwaway CA for the Salesforce sandbox."""
    from revops_sandbox.salesforce import ensure_tls_material
    from revops_sandbox.server import serve_in_thread

    tls = ensure_tls_material(tmp_path_factory.mktemp("salesforce-tls"))
    switch = SwitchableApp()
    with serve_in_thread(
        switch, ssl_certfile=str(tls.cert_path), ssl_keyfile=str(tls.key_path)
    ) as running:
        yield switch, running.url, tls


@pytest.fixture
def salesforce_sandbox(salesforce_server, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """start(**SalesforceSandbox kwargs) -> the sandbox, served at `.url`, trusted through
    REQUESTS_CA_BUNDLE for the test."""
    from revops_sandbox.salesforce import SalesforceSandbox

    switch, url, tls = salesforce_server
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.bundle_path))

    def start(**kwargs):  # type: ignore[no-untyped-def]
        sandbox = SalesforceSandbox(**kwargs)
        sandbox.url = url
        switch.target = sandbox.app
        return sandbox

    return start

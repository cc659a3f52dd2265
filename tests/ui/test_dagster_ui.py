"""The Dagster UI in headless Chromium: lineage, a real sync report, and the automations.

Each check reads what the browser rendered (the SVG graph, the metadata table, the automation
list) and compares it with the definitions and with the sync run that `ui_world.sync_one_partition` made.
Screenshots go to `.revops/test-artifacts/ui/`.
"""

from __future__ import annotations

import contextlib
import re
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
from playwright.sync_api import Page
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

from revops_pipelines.definitions import defs
from tests.ui.ui_world import LOCATION, ROOT, Webserver

SYNC_EDGES = {
    ("salesforce_accounts", "mapped_companies"),
    ("mapped_companies", "attio_companies"),
}
LEAD_EDGES = {
    ("form_submissions", "inbound_leads"),
    ("inbound_leads", "attio_people"),
    ("attio_people", "routed_leads"),
}
SCALAR_FIGURES = ("read", "created", "updated", "unchanged", "rejected", "conflicts", "errors")

# Nodes are <foreignObject> boxes whose first line of text is the asset key (zoomed in or out);
# an edge is a path from the right side of its upstream box to just left of its downstream box.
# Matching the ends to the boxes gives the lineage as drawn.
DRAWN_GRAPH_JS = """() => {
  const nodes = [...document.querySelectorAll('svg foreignObject')].map((box) => ({
    name: (box.firstElementChild?.innerText || '').trim().split(/\\s+/)[0] || null,
    x: +box.getAttribute('x'), y: +box.getAttribute('y'),
    w: +box.getAttribute('width'), h: +box.getAttribute('height'),
  })).filter((n) => n.name);
  const edges = [...document.querySelectorAll('svg path[marker-end]')].map((path) => {
    const points = path.getAttribute('d').match(/-?\\d+(\\.\\d+)?/g).map(Number);
    return [points[0], points[1], points[points.length - 2], points[points.length - 1]];
  });
  return {nodes, edges};
}"""
GRAPH_READY_JS = f"""([names, edges]) => {{
  const graph = ({DRAWN_GRAPH_JS})();
  const drawn = new Set(graph.nodes.map((n) => n.name));
  return names.every((name) => drawn.has(name)) && graph.edges.length >= edges;
}}"""


def wait_for_graph(page: Page, names: set[str], edges: int) -> dict[str, Any]:
    page.wait_for_function(GRAPH_READY_JS, arg=[sorted(names), edges])
    return page.evaluate(DRAWN_GRAPH_JS)


def shot(page: Page, folder: Path, name: str) -> Path:
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    print(f"screenshot: {path}")
    return path


def drawn_edges(graph: dict[str, Any]) -> set[tuple[str, str]]:
    def nearest(x: float, y: float, side: str) -> str | None:
        best: tuple[float, str] | None = None
        for n in graph["nodes"]:
            if not n["y"] <= y <= n["y"] + n["h"]:
                continue
            gap = abs(x - (n["x"] + n["w"] if side == "right" else n["x"]))
            if gap <= 20 and (best is None or gap < best[0]):
                best = (gap, n["name"])
        return best[1] if best else None

    edges = set()
    for x1, y1, x2, y2 in graph["edges"]:
        upstream, downstream = nearest(x1, y1, "right"), nearest(x2, y2, "left")
        if upstream and downstream:
            edges.add((upstream, downstream))
    return edges


@pytest.mark.parametrize(
    ("group", "expected"),
    [("salesforce_sync", SYNC_EDGES), ("inbound_leads", LEAD_EDGES)],
    ids=["salesforce_sync", "inbound_leads"],
)
def test_asset_group_graph_draws_the_lineage(
    page: Page, artifacts: Path, group: str, expected: set[tuple[str, str]]
) -> None:
    page.goto(f"/locations/{LOCATION}/asset-groups/{group}")
    names = {name for edge in expected for name in edge}
    graph = wait_for_graph(page, names, len(expected))
    # Zoomed in, the nodes fill in their latest events a moment later; the picture is better then.
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_function(
            "() => ![...document.querySelectorAll('svg foreignObject')]"
            ".some((box) => box.textContent.includes('Loading'))",
            timeout=10_000,
        )
    shot(page, artifacts, f"lineage-{group}")
    edges = drawn_edges(graph)
    assert expected <= edges, f"drawn edges: {sorted(edges)}"


def test_asset_lineage_tab_shows_neighbours_and_their_run(
    page: Page, artifacts: Path, webserver: Webserver
) -> None:
    page.goto("/assets/mapped_companies?view=lineage")
    names = {name for edge in SYNC_EDGES for name in edge}
    graph = wait_for_graph(page, names, len(SYNC_EDGES))
    # Each node's "Latest event" links the run that materialized it: the sync run of conftest.
    run_links = f'svg foreignObject a[href^="/runs/{webserver.world.run_id}"]'
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_function(
            "([sel, n]) => document.querySelectorAll(sel).length >= n", arg=[run_links, len(names)]
        )
    shot(page, artifacts, "asset-lineage-mapped_companies")
    edges = drawn_edges(graph)
    assert edges >= SYNC_EDGES, f"drawn edges: {sorted(edges)}"
    assert page.locator(run_links).count() == len(names)


def markdown_rows(text: str) -> list[list[str]]:
    """The cells of a markdown table, header first, without the `|---|` line."""
    return [
        [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        for line in text.splitlines()
        if not re.fullmatch(r"[\s|:-]+", line)
    ]


def test_sync_report_renders_on_the_asset_page(
    page: Page, artifacts: Path, webserver: Webserver
) -> None:
    world = webserver.world
    page.goto("/assets/attio_companies")
    problems = page.locator("tr", has=page.get_by_text("sample_problems", exact=True))
    problems.locator(".dagster-markdown table").wait_for()
    page.get_by_text(world.partition, exact=True).first.wait_for()

    rendered = page.evaluate(
        """() => Object.fromEntries([...document.querySelectorAll('tr')]
              .filter((tr) => tr.children.length === 3)
              .map((tr) => [tr.children[0].innerText.trim(), tr.children[2].innerText.trim()]))"""
    )
    shown = {key: rendered.get(key) for key in SCALAR_FIGURES}
    assert shown == {key: str(world.report[key].value) for key in SCALAR_FIGURES}

    # The markdown arrives as an HTML table (not raw pipes) with the run's own problem rows.
    header, *body = markdown_rows(world.report["sample_problems"].value)
    table = problems.locator(".dagster-markdown table")
    assert table.locator("th").all_inner_texts() == header
    cells = [row.locator("td").all_inner_texts() for row in table.locator("tbody tr").all()]
    assert cells == body
    assert "|---|" not in problems.inner_text()

    problems.scroll_into_view_if_needed()
    shot(page, artifacts, "attio_companies-sync-report")


# One entry per automation: its kind and name (from the link), its subtitle, and its on/off
# switch. The row is the nearest ancestor holding a checkbox (the one that selects the row); the
# switch is the row's second checkbox, absent while the automation's state is loading.
AUTOMATION_ROWS_JS = """(prefix) => [...document.querySelectorAll(`a[href^="${prefix}"]`)]
  .map((a) => {
    const found = a.getAttribute('href').slice(prefix.length).match(/^(sensors|schedules)\\/([^/?]+)$/);
    let row = a.parentElement;
    while (row && !row.querySelector('input[type=checkbox]')) row = row.parentElement;
    const boxes = row ? row.querySelectorAll('input[type=checkbox]') : [];
    return found && {
      kind: found[1], name: found[2], text: a.innerText,
      on: boxes.length === 2 ? boxes[1].checked : null,
    };
  }).filter(Boolean)"""


def test_automation_page_lists_sensors_and_schedules(page: Page, artifacts: Path) -> None:
    repository = defs.get_repository_def()
    expected = {
        ("sensors", s.name): s.default_status == dg.DefaultSensorStatus.RUNNING
        for s in repository.sensor_defs
    } | {
        ("schedules", s.name): s.default_status == dg.DefaultScheduleStatus.RUNNING
        for s in repository.schedule_defs
    }
    assert {("sensors", "form_inbox_sensor"), ("sensors", "attio_inbox_sensor")} <= set(expected)
    assert {
        ("schedules", "salesforce_incremental_sync_schedule"),
        ("schedules", "salesforce_full_sync_schedule"),
    } <= set(expected)

    page.goto("/automation")
    prefix = f"/locations/{LOCATION}/"
    # The list first draws every switch off, then a spinner per row while that automation's
    # state loads; only then do the switches show the instance's state, so wait for a match
    # and compare whatever is showing if none comes.
    want = {f"{kind}/{name}": on for (kind, name), on in expected.items()}
    with contextlib.suppress(PlaywrightTimeoutError):
        page.wait_for_function(
            f"([prefix, want]) => {{ const rows = ({AUTOMATION_ROWS_JS})(prefix);"
            " return rows.length === Object.keys(want).length"
            " && rows.every((r) => want[`${r.kind}/${r.name}`] === r.on); }",
            arg=[prefix, want],
        )
    shot(page, artifacts, "automation")
    rows = page.evaluate(AUTOMATION_ROWS_JS, prefix)
    assert {(r["kind"], r["name"]): r["on"] for r in rows} == expected
    subtitles = {r["name"]: r["text"] for r in rows}
    assert "Scheduled" in subtitles["salesforce_incremental_sync_schedule"]
    assert "sensor" in subtitles["form_inbox_sensor"]


def test_resources_page_shows_the_active_environment_profile(page: Page, artifacts: Path) -> None:
    from revops_pipelines.infra.settings import load_settings

    settings = load_settings()  # the webserver inherits this process's environment
    page.goto(f"/locations/{LOCATION}/resources/revops_environment")
    page.get_by_text("REVOPS_ENV: development, staging or production.").first.wait_for()
    shot(page, artifacts, "resource-revops_environment")
    text = page.inner_text("body")
    assert settings.env in text
    assert "attio_write_rate" in text and str(settings.attio_write_rate) in text
    assert settings.alerts_channel in text


LOCATION_NAMES = "{ workspaceOrError { ... on Workspace { locationEntries { name } } } }"
# The code locations the page lists: each row's name link (/locations/<name>/) and the name it
# shows (the truncating label keeps the full name in its title).
LISTED_LOCATIONS_JS = """() => [...document.querySelectorAll('a[href^="/locations/"]')]
  .filter((a) => /^[/]locations[/][^/]+[/]$/.test(a.getAttribute('href')))
  .map((a) => [a.getAttribute('href'), a.querySelector('[title]')?.getAttribute('title')])"""


def test_code_location_is_named_revops_pipelines_not_after_the_folder(
    page: Page, webserver: Webserver, artifacts: Path
) -> None:
    # The webserver runs in the checkout (ROOT), whatever that folder is called.
    answer = httpx.post(f"{webserver.url}/graphql", json={"query": LOCATION_NAMES}, timeout=10)
    entries = answer.json()["data"]["workspaceOrError"]["locationEntries"]
    assert [e["name"] for e in entries] == ["revops_pipelines"]
    page.goto("/locations")
    page.locator(f'a[href="/locations/{LOCATION}/"]').first.wait_for()
    shot(page, artifacts, "locations")
    listed = page.evaluate(LISTED_LOCATIONS_JS)
    assert listed == [["/locations/revops_pipelines/", "revops_pipelines"]], ROOT.name

"""`revops attio check|setup` and the Dagster resource, against the sandbox over real HTTP."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import dagster as dg
import pytest
from click.testing import CliRunner

from revops_pipelines.cli import app
from revops_pipelines.config.loader import CONFIG_DIR_ENV, DEFAULT_DIR
from revops_pipelines.domain.attio_values import first_value
from revops_pipelines.resources.attio import AttioResource
from revops_sandbox.attio import AttioSandbox
from revops_sandbox.server import serve_in_thread

KEY = "setup-key"


@pytest.fixture
def standard_workspace() -> Iterator[str]:
    """A workspace with only Attio's standard attributes, as a new customer has."""
    sandbox = AttioSandbox(api_keys=(KEY,), schema="standard")
    with serve_in_thread(sandbox.app) as server:
        yield f"{server.url}/v2"


def invoke(args: list[str], base_url: str, key: str = KEY) -> Any:
    env = {"ATTIO_API_KEY": key, "ATTIO_BASE_URL": base_url}
    return CliRunner().invoke(app, args, env=env, catch_exceptions=False)


def test_setup_creates_what_is_missing_and_check_then_passes(standard_workspace: str) -> None:
    before = invoke(["attio", "check"], standard_workspace)
    assert before.exit_code == 1
    assert "create attribute companies.salesforce_id (text)" in before.output
    assert "create list inbound_leads (parent people)" in before.output

    assert "problem: config/pipelines.yaml: rule 'proposal_sent'" in before.output

    setup = invoke(["attio", "setup"], standard_workspace)
    assert setup.exit_code == 0, setup.output
    assert "created attribute people.routing_reason" in setup.output
    # What the pipeline rules need on their list (config/pipelines.yaml).
    assert "created attribute sales_pipeline.stage (status)" in setup.output
    assert "created stage sales_pipeline.stage = 'Proposal'" in setup.output
    assert "created attribute people.form_submission_date" in setup.output
    assert "created attribute people.assigned_date" in setup.output
    assert "created option companies.industry = 'Technology'" in setup.output

    after = invoke(["attio", "check"], standard_workspace)
    assert after.exit_code == 0, after.output
    assert "The workspace has the expected schema." in after.output

    again = invoke(["attio", "setup"], standard_workspace)
    assert again.exit_code == 0
    assert "created" not in again.output


def test_check_with_a_wrong_key_names_the_variable(standard_workspace: str) -> None:
    result = CliRunner().invoke(
        app, ["attio", "check"], env={"ATTIO_API_KEY": "nope", "ATTIO_BASE_URL": standard_workspace}
    )
    assert result.exit_code == 1
    assert "401" in result.output and "ATTIO_API_KEY" in result.output


def test_check_without_a_key_names_the_variable(standard_workspace: str) -> None:
    result = CliRunner().invoke(
        app, ["attio", "check"], env={"ATTIO_API_KEY": "", "ATTIO_BASE_URL": standard_workspace}
    )
    assert result.exit_code == 1
    assert "ATTIO_API_KEY is not set" in result.output


def test_the_resource_serves_an_async_asset(attio_sandbox: Any) -> None:
    @dg.asset
    async def probe_company(attio: AttioResource) -> dg.MaterializeResult:
        async with attio.client() as client:
            record = await client.records.assert_record(
                "companies",
                matching_attribute="domains",
                values={"domains": ["https://probe.example/about?x=1"], "name": "Probe"},
            )
        return dg.MaterializeResult(metadata={"domain": first_value(record, "domains", "domain")})

    result = dg.materialize(
        [probe_company],
        resources={
            "attio": AttioResource(api_key="sandbox-attio-key", base_url=attio_sandbox.api_url)
        },
    )
    assert result.success
    metadata = result.asset_materializations_for_node("probe_company")[0].metadata
    assert metadata["domain"].value == "probe.example"


def test_the_resource_fails_a_run_naming_an_unset_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ATTIO_API_KEY", raising=False)

    @dg.asset
    async def needs_attio(attio: AttioResource) -> None:
        async with attio.client():
            pass

    with pytest.raises(Exception, match="ATTIO_API_KEY"):
        dg.materialize(
            [needs_attio], resources={"attio": AttioResource(api_key=dg.EnvVar("ATTIO_API_KEY"))}
        )


def test_check_warns_when_no_configured_won_stage_exists(
    standard_workspace: str, tmp_path: Path
) -> None:
    config = tmp_path / "config"
    shutil.copytree(DEFAULT_DIR, config, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    deals = config / "deals.yaml"
    deals.write_text(
        deals.read_text(encoding="utf-8").replace('["Won 🎉"]', '["Closed won"]'), encoding="utf-8"
    )
    env = {"ATTIO_API_KEY": KEY, "ATTIO_BASE_URL": standard_workspace}
    shipped = CliRunner().invoke(app, ["attio", "check"], env=env, catch_exceptions=False)
    assert "won stage" not in shipped.output  # Attio's default `Won 🎉` is there
    result = CliRunner().invoke(
        app, ["attio", "check"], env={**env, CONFIG_DIR_ENV: str(config)}, catch_exceptions=False
    )
    assert "warning: no configured won stage ['Closed won'] exists among the deal stages" in (
        result.output
    )
    assert "'Won 🎉'" in result.output

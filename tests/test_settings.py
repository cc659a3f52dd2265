"""Environment profiles: REVOPS_ENV picks one, variables override it, bad values name the
variable, the resources and `revops config show` reflect it, and secrets never show."""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from revops_pipelines.cli import app
from revops_pipelines.definitions import resource_defs
from revops_pipelines.infra.settings import (
    PROFILES,
    RevopsSettings,
    SettingsError,
    load_settings,
    mask_url,
    variable_for,
)

SECRET = "sk-live-0123456789abcdef"


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in RevopsSettings.model_fields:
        monkeypatch.delenv(variable_for(name), raising=False)
    monkeypatch.delenv("REVOPS_ENV", raising=False)


@pytest.mark.parametrize("env", ["development", "staging", "production"])
def test_each_profile_loads_its_values(monkeypatch: pytest.MonkeyPatch, env: str) -> None:
    monkeypatch.setenv("REVOPS_ENV", env)
    settings = load_settings()
    assert settings.env == env
    for name, value in PROFILES[env].items():
        assert getattr(settings, name) == value, name


def test_development_is_the_default_and_profiles_differ() -> None:
    settings = load_settings()
    assert (settings.env, settings.log_format) == ("development", "human")
    assert PROFILES["production"]["attio_write_rate"] < PROFILES["development"]["attio_write_rate"]
    assert PROFILES["production"]["log_format"] == "json"


def test_a_variable_overrides_its_profile_value(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVOPS_ENV", "production")
    monkeypatch.setenv("REVOPS_ATTIO_WRITE_RATE", "7.5")
    monkeypatch.setenv("REVOPS_RETRY_MAX_ATTEMPTS", "3")
    monkeypatch.setenv("SLACK_ALERTS_CHANNEL", "#oncall")
    monkeypatch.setenv("REDIS_URL", "redis://:pw@127.0.0.1:6379/2")
    settings = load_settings()
    assert settings.attio_write_rate == 7.5 and settings.retry_max_attempts == 3
    assert settings.alerts_channel == "#oncall"
    assert settings.attio_read_rate == PROFILES["production"]["attio_read_rate"]  # untouched
    assert settings.public()["redis_url"] == "redis://:***@127.0.0.1:6379/2"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("REVOPS_ATTIO_WRITE_RATE", "fast"),
        ("REVOPS_ATTIO_WRITE_RATE", "0"),
        ("REVOPS_RETRY_MAX_ATTEMPTS", "-1"),
        ("REVOPS_LOG_FORMAT", "xml"),
        ("SLACK_ALERTS_CHANNEL", "#"),
    ],
)
def test_a_bad_value_fails_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(SettingsError, match=re.escape(f"{variable}='{value}'")):
        load_settings()


def test_a_heartbeat_lease_shorter_than_three_beats_is_refused_naming_both(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REVOPS_RUN_HEARTBEAT_SECONDS", "10")
    monkeypatch.setenv("REVOPS_RUN_HEARTBEAT_LEASE_SECONDS", "25")
    with pytest.raises(SettingsError) as refused:
        load_settings()
    assert str(refused.value) == (
        "bad setting: REVOPS_RUN_HEARTBEAT_LEASE_SECONDS=25 must be at least three heartbeats "
        "(REVOPS_RUN_HEARTBEAT_SECONDS=10), or one late beat would fail a live run"
    )
    monkeypatch.setenv("REVOPS_RUN_HEARTBEAT_LEASE_SECONDS", "30")
    assert load_settings().run_heartbeat_lease_seconds == 30.0


def test_an_unknown_environment_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVOPS_ENV", "prod")
    with pytest.raises(SettingsError, match=r"REVOPS_ENV='prod'.*production"):
        load_settings()


def test_the_resources_take_the_profile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVOPS_ENV", "production")
    monkeypatch.setenv("REVOPS_ATTIO_MAX_CONCURRENCY", "4")
    resources = resource_defs()
    attio = resources["attio"]
    assert (attio.write_rate_per_second, attio.read_rate_per_second) == (20.0, 80.0)
    assert (attio.max_attempts, attio.max_total_wait_seconds, attio.max_concurrency) == (
        8,
        300.0,
        4,
    )
    shown = resources["revops_environment"]
    assert shown.env == "production" and shown.settings["attio_max_concurrency"] == "4"


def test_config_show_prints_sources_and_never_a_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVOPS_ENV", "staging")
    monkeypatch.setenv("REVOPS_RECORD_CACHE_TTL_SECONDS", "5")
    monkeypatch.setenv("ATTIO_API_KEY", SECRET)
    monkeypatch.setenv("REVOPS_DATABASE_URL", f"postgresql+psycopg://app:{SECRET}@db/revops")
    table = CliRunner().invoke(app, ["config", "show"])
    assert table.exit_code == 0, table.output
    assert SECRET not in table.output
    assert "REVOPS_ENV: staging" in table.output
    assert "(env REVOPS_RECORD_CACHE_TTL_SECONDS)" in table.output
    assert "(profile staging)" in table.output
    assert "postgresql+psycopg://app:***@db/revops" in table.output
    as_json = CliRunner().invoke(app, ["config", "show", "--json"])
    assert SECRET not in as_json.output
    shown = json.loads(as_json.output)
    assert shown["secrets"]["ATTIO_API_KEY"] == "set (hidden)"
    assert shown["secrets"]["SLACK_BOT_TOKEN"] == "not set"
    assert shown["settings"]["record_cache_ttl_seconds"] == {
        "value": "5.0",
        "source": "env REVOPS_RECORD_CACHE_TTL_SECONDS",
    }


def test_config_show_reports_a_bad_value_as_an_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVOPS_BREAKER_FAIL_MAX", "many")
    result = CliRunner().invoke(app, ["config", "show"])
    assert result.exit_code != 0 and "REVOPS_BREAKER_FAIL_MAX='many'" in result.output


def test_mask_url_hides_only_the_password() -> None:
    assert mask_url("redis://user:pw@h:1/0") == "redis://user:***@h:1/0"
    assert mask_url("sqlite:///x.db") == "sqlite:///x.db"

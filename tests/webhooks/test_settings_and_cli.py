"""Receiver settings from the environment, and the `revops webhooks` commands."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from revops_pipelines.cli import app
from revops_pipelines.store import engine as store_engine
from revops_pipelines.store import inbox
from revops_pipelines.webhooks.settings import (
    DEFAULT_MAX_BODY_BYTES,
    ReceiverSettings,
    WeakSecretError,
)

SECRET_ENVS = (
    "TYPEFORM_WEBHOOK_SECRET",
    "TALLY_WEBHOOK_SECRET",
    "ATTIO_WEBHOOK_SECRET",
    "SEGMENT_WEBHOOK_SECRET",
)


def test_settings_from_env_mount_only_sources_with_a_secret() -> None:
    env = {
        "REVOPS_DATABASE_URL": "sqlite:///x.db",
        "TYPEFORM_WEBHOOK_SECRET": "s1-0123456789abcdef",
        "TALLY_WEBHOOK_SECRET": "  ",
        "ATTIO_WEBHOOK_SECRET": "s3-0123456789abcdef",
        "REVOPS_WEBHOOK_MAX_BODY_BYTES": "2048",
    }
    settings = ReceiverSettings.from_env(env)
    assert settings.database_url == "sqlite:///x.db"
    assert settings.mounted == ["typeform", "attio"]
    assert settings.refused == ["tally", "segment"]
    assert settings.max_body_bytes == 2048
    assert "s1" not in repr(settings)  # secrets stay out of reprs and logs
    assert (
        ReceiverSettings.from_env({"REVOPS_DATABASE_URL": "sqlite://"}).max_body_bytes
        == DEFAULT_MAX_BODY_BYTES
    )


@pytest.mark.parametrize("secret", ["x", "0123456789abcde"])
def test_a_short_webhook_secret_refuses_to_start_the_receiver_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    for name in SECRET_ENVS:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TYPEFORM_WEBHOOK_SECRET", "a-long-enough-typeform-secret")
    monkeypatch.setenv("TALLY_WEBHOOK_SECRET", secret)
    with pytest.raises(WeakSecretError, match=r"^TALLY_WEBHOOK_SECRET: .* at least 16"):
        ReceiverSettings.from_env()
    result = CliRunner().invoke(app, ["webhooks", "serve", "--port", "0"])
    assert result.exit_code == 1
    assert "TALLY_WEBHOOK_SECRET" in result.output and "at least 16" in result.output
    assert len(secret) < 4 or secret not in result.output  # the value itself is never shown
    monkeypatch.setenv("TALLY_WEBHOOK_SECRET", "0123456789abcdef")  # 16: accepted
    assert ReceiverSettings.from_env().mounted == ["typeform", "tally"]


def test_settings_reject_unknown_sources_and_bad_limits() -> None:
    with pytest.raises(ValueError, match="unknown webhook sources"):
        ReceiverSettings("sqlite://", secrets={"zapier": "x"})
    with pytest.raises(ValueError, match="positive"):
        ReceiverSettings("sqlite://", max_body_bytes=0)


def test_serve_refuses_to_start_without_any_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in SECRET_ENVS:
        monkeypatch.delenv(name, raising=False)
    result = CliRunner().invoke(app, ["webhooks", "serve", "--port", "0"])
    assert result.exit_code == 1
    assert "no webhook secret is set" in result.output


def test_status_and_requeue_commands(db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(store_engine.DATABASE_URL_ENV, db_url)
    engine = store_engine.get_engine(db_url)
    stored = inbox.store_event(engine, source="tally", event_id="e", headers={}, body=b"{}")
    assert stored.id is not None
    inbox.mark_quarantined(engine, stored.id, "bad")
    status = CliRunner().invoke(app, ["webhooks", "status"])
    assert status.exit_code == 0, status.output
    assert "tally     pending=0  processing=0  done=0  failed=0  quarantined=1" in status.output
    requeue = CliRunner().invoke(app, ["webhooks", "requeue", str(stored.id)])
    assert "requeued 1 of 1 rows" in requeue.output
    assert inbox.get_rows(engine, [stored.id])[0].status == "pending"

"""Structured logs: configured secrets never reach a log line (receiver or Dagster run), and a
Dagster run with the `json` logger writes parseable JSON lines with its run id, step key and the
inbox row a line is about."""

import json
import logging
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dagster as dg
import httpx
import pytest
import yaml

from revops_pipelines.assets.forms import form_submissions
from revops_pipelines.assets.heartbeat import run_heartbeat
from revops_pipelines.assets.leads import inbound_leads
from revops_pipelines.infra.dagster_logs import DAGSTER_YAML_HANDLER, LOGGER_DEFS
from revops_pipelines.infra.logs import (
    MASK,
    SECRET_ENV_VARS,
    JsonFormatter,
    SecretMaskingFilter,
    log_fields,
    masker,
)
from revops_pipelines.resources.enrichment import EnrichmentResource
from revops_pipelines.store import engine as store_engine
from revops_pipelines.store import inbox
from revops_pipelines.store.inbox import NewEvent
from revops_pipelines.store.resource import RevopsDatabase
from revops_pipelines.webhooks.app import create_app
from revops_pipelines.webhooks.logs import configure_json_logging
from revops_pipelines.webhooks.settings import ReceiverSettings
from revops_pipelines.webhooks.sources import SOURCES
from revops_sandbox.server import serve_in_thread
from tests.webhooks.helpers import SECRETS, example, signed

ENV_SECRETS = {name: f"{name.lower().replace('_', '-')}-v4lue-7Q" for name in SECRET_ENV_VARS}
DB_PASSWORD = "pg-pa55word-9z"
DB_URL = f"postgresql+psycopg://revops:{DB_PASSWORD}@db.internal:5432/revops"
BEARER = "eyJhbGciOiJIUzI1NiJ9.c2VjcmV0.Zm9v"
ALL_SECRETS = [*ENV_SECRETS.values(), DB_PASSWORD, BEARER]


@pytest.fixture
def env_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in ENV_SECRETS.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("REVOPS_DATABASE_URL", DB_URL)
    masker.refresh()  # the masker rereads the environment once a second; now, for the test


@pytest.fixture
def json_root_logging(capsys: pytest.CaptureFixture[str]) -> Iterator[None]:
    """The receiver's real logging set-up (`revops webhooks serve`), writing to the captured
    stderr, undone afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    configure_json_logging("info")
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def assert_no_secret(text: str, secrets: list[str]) -> None:
    leaked = [secret for secret in secrets if secret in text]
    assert not leaked, f"secrets in the logs: {leaked}"
    assert MASK in text


def test_every_webhook_signing_secret_is_a_masked_variable() -> None:
    assert {source.secret_env for source in SOURCES.values()} <= set(SECRET_ENV_VARS)


def test_receiver_logs_mask_secrets_in_messages_fields_and_exceptions(
    env_secrets: None, json_root_logging: None, db_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = ReceiverSettings(db_url, secrets=SECRETS)
    token = ENV_SECRETS["SLACK_BOT_TOKEN"]
    with (
        serve_in_thread(create_app(settings)) as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
    ):
        # A failing request whose logged text (path, message, fields) carries secrets.
        assert client.post(f"/webhooks/{token}", content=b"{}").status_code == 404
        typeform_secret = SECRETS["typeform"]  # given in code, not via the environment
        assert client.post(f"/webhooks/{typeform_secret}", content=b"{}").status_code == 404
        # A stored delivery whose event id (a logged field) is a secret and a bearer header.
        payload = json.loads(example("typeform"))
        payload["event_id"] = f"{ENV_SECRETS['ATTIO_API_KEY']} Bearer {BEARER}"
        body = json.dumps(payload).encode()
        response = client.post("/webhooks/typeform", content=body, headers=signed("typeform", body))
        assert response.status_code == 202
    logger = logging.getLogger("revops.webhooks")
    logger.warning("db at %s", DB_URL, extra={"fields": {"auth": f"Bearer {BEARER}"}})
    try:
        raise RuntimeError(f"Outreach refused token {ENV_SECRETS['OUTREACH_ACCESS_TOKEN']}")
    except RuntimeError:
        logger.exception("enrichment failed", extra={"fields": {"nested": [{"k": DB_PASSWORD}]}})

    err = capsys.readouterr().err
    assert_no_secret(err, [*ALL_SECRETS, *SECRETS.values()])
    entries = json_lines(err)
    not_found = [e for e in entries if e.get("http_status") == 404]
    assert [e["source"] for e in not_found] == [MASK, MASK]
    stored = next(e for e in entries if e.get("http_status") == 202)
    assert stored["event_id"] == f"{MASK} Bearer {MASK}"
    assert stored["inbox_id"] == response.json()["id"]
    db_line = next(e for e in entries if e["msg"].startswith("db at"))
    assert db_line["msg"] == f"db at postgresql+psycopg://revops:{MASK}@db.internal:5432/revops"
    assert db_line["auth"] == f"Bearer {MASK}"
    failure = next(e for e in entries if e["msg"] == "enrichment failed")
    assert failure["exception"] == "RuntimeError"
    assert failure["error"] == f"Outreach refused token {MASK}"
    assert "Traceback" in failure["traceback"] and MASK in failure["traceback"]
    assert failure["nested"] == [{"k": MASK}]


def test_the_filter_masks_records_for_plain_text_handlers(
    env_secrets: None, capsys: pytest.CaptureFixture[str]
) -> None:
    handler = logging.StreamHandler()  # binds the captured stderr
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    handler.addFilter(SecretMaskingFilter())
    logger = logging.getLogger("revops.test.plain")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        try:
            raise ValueError(f"salesforce said {ENV_SECRETS['SALESFORCE_PASSWORD']}")
        except ValueError:
            logger.exception("login with %s", ENV_SECRETS["SALESFORCE_SECURITY_TOKEN"])
    finally:
        logger.removeHandler(handler)
        logger.propagate = True
    err = capsys.readouterr().err
    assert_no_secret(err, ALL_SECRETS)
    assert f"ERROR login with {MASK}" in err and f"ValueError: salesforce said {MASK}" in err


def test_json_formatter_masks_without_the_filter(env_secrets: None) -> None:
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "key %s", (ENV_SECRETS["ENRICHMENT_API_KEY"],), None
    )
    record.fields = {"token": ENV_SECRETS["TALLY_WEBHOOK_SECRET"]}
    line = JsonFormatter().format(record)
    assert_no_secret(line, ALL_SECRETS)
    assert json.loads(line)["token"] == MASK


# A Dagster run through project assets: form_submissions claims the rows, quarantines the one it
# cannot parse, and inbound_leads quarantines the one with an invalid email.
lead_job = dg.define_asset_job("lead_logging_job", selection=[form_submissions, inbound_leads])


def _store_rows(db_url: str) -> tuple[int, int]:
    engine = store_engine.get_engine(db_url)
    bad_email = example("typeform").replace(b"laura@example.com", b"laura-at-nowhere")
    unparseable = b'{"event_type": "form_response", "event_id": "no-form"}'
    results = inbox.store_events(
        engine,
        [
            NewEvent("typeform", "log-bad-email", {}, bad_email),
            NewEvent("typeform", "log-unparseable", {}, unparseable),
        ],
    )
    return results[0].id, results[1].id


def _lead_defs(db_url: str) -> dg.Definitions:
    return dg.Definitions(
        assets=[form_submissions, inbound_leads],
        jobs=[lead_job],
        resources={
            "database": RevopsDatabase(url=db_url),
            "enrichment": EnrichmentResource(),
            "run_heartbeat": run_heartbeat,
        },
        loggers=LOGGER_DEFS,
    )


def test_dagster_run_with_the_json_logger_writes_context_and_inbox_ids(
    db_url: str, dagster_instance: dg.DagsterInstance, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_email_id, unparseable_id = _store_rows(db_url)
    job = _lead_defs(db_url).resolve_job_def("lead_logging_job")
    result = job.execute_in_process(
        instance=dagster_instance,
        run_config={
            "loggers": {"json": {"config": {"log_level": "DEBUG"}}},
            "ops": {"form_submissions": {"config": {"inbox_ids": [bad_email_id, unparseable_id]}}},
        },
    )
    assert result.success
    err = capsys.readouterr().err
    entries = json_lines(err)
    assert entries, "no JSON lines on stderr"
    run_lines = [e for e in entries if e.get("logger") == "revops"]
    assert run_lines and all(e["run_id"] == result.run_id for e in run_lines)
    assert {e["step_key"] for e in run_lines if "step_key" in e} >= {
        "form_submissions",
        "inbound_leads",
    }
    claimed = next(e for e in run_lines if e["msg"].startswith("claimed 2 inbox rows"))
    assert claimed["inbox_ids"] == [bad_email_id, unparseable_id]
    assert claimed["step_key"] == "form_submissions" and claimed["job_name"] == "lead_logging_job"
    parse = next(e for e in run_lines if e.get("inbox_id") == unparseable_id)
    assert parse["step_key"] == "form_submissions" and parse["outcome"] == "quarantined"
    assert parse["level"] == "warning" and "form_response is missing" in parse["msg"]
    lead = next(e for e in run_lines if e.get("inbox_id") == bad_email_id)
    assert lead["step_key"] == "inbound_leads" and "invalid email" in lead["msg"]
    success = [e for e in run_lines if e.get("event_type") == "STEP_SUCCESS"]
    assert {e["step_key"] for e in success} == {"form_submissions", "inbound_leads"}
    # The default colored console is not added when the run config names only `json`.
    assert " - lead_logging_job - " not in err


@dg.asset
def leaky(context: dg.AssetExecutionContext) -> None:
    token = ENV_SECRETS["ATTIO_API_KEY"]
    log_fields(context.log, logging.INFO, f"calling Attio with {token}", inbox_id=7, key=token)
    context.log.info(f"raw context.log with Authorization: Bearer {BEARER}")
    raise RuntimeError(f"Attio answered 401 for key {token}")


def test_dagster_json_logger_masks_messages_fields_and_failures(
    env_secrets: None, capsys: pytest.CaptureFixture[str]
) -> None:
    job = dg.Definitions(
        assets=[leaky], jobs=[dg.define_asset_job("leaky_job", [leaky])], loggers=LOGGER_DEFS
    ).resolve_job_def("leaky_job")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            instance=instance, run_config={"loggers": {"json": {}}}, raise_on_error=False
        )
        assert not result.success
        # log_fields masks at the source, so the run's event log (the UI) has no secret either.
        stored = [
            e.user_message for e in instance.all_logs(result.run_id) if "Attio with" in e.message
        ]
    assert stored == [f"calling Attio with {MASK}"]
    err = capsys.readouterr().err
    assert_no_secret(err, ALL_SECRETS)
    entries = json_lines(err)
    call = next(e for e in entries if e["msg"].startswith("calling Attio"))
    assert (call["inbox_id"], call["key"], call["step_key"]) == (7, MASK, "leaky")
    raw = next(e for e in entries if e["msg"].startswith("raw context.log"))
    assert raw["msg"] == f"raw context.log with Authorization: Bearer {MASK}"
    failure = next(e for e in entries if e.get("event_type") == "STEP_FAILURE")
    assert (
        failure["run_id"] == result.run_id and "Attio answered 401 for key ***" in failure["error"]
    )


@pytest.mark.filterwarnings("ignore::dagster.BetaWarning")  # yaml-defined handlers are beta
def test_instance_wide_json_handler_from_the_documented_dagster_yaml(
    env_secrets: None, capsys: pytest.CaptureFixture[str]
) -> None:
    job = dg.Definitions(
        assets=[leaky], jobs=[dg.define_asset_job("leaky_job", [leaky])]
    ).resolve_job_def("leaky_job")
    with dg.instance_for_test(overrides=yaml.safe_load(DAGSTER_YAML_HANDLER)) as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)  # no loggers
    # Dagster's default console prints too; the JSON lines are the instance handler's.
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert_no_secret("\n".join(lines), ALL_SECRETS)
    entries = json_lines("\n".join(lines))
    call = next(e for e in entries if e["msg"].startswith("calling Attio"))
    assert (call["run_id"], call["step_key"], call["inbox_id"]) == (result.run_id, "leaky", 7)
    assert datetime.fromisoformat(call["ts"]) <= datetime.now(UTC)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("log_format", ["human", "json"])
def test_revops_webhooks_serve_logs_in_the_environments_format_masked(
    log_format: str, tmp_path: Path
) -> None:
    port = _free_port()
    env = {
        **os.environ,
        **ENV_SECRETS,
        "REVOPS_DATABASE_URL": f"sqlite:///{tmp_path / 'revops.db'}",
        "REVOPS_LOG_FORMAT": log_format,
    }
    env.pop("REVOPS_ENV", None)
    token = ENV_SECRETS["SLACK_BOT_TOKEN"]
    revops = str(Path(sys.executable).with_name("revops"))  # the installed console script
    command = [revops, "webhooks", "serve", "--port", str(port)]
    with subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True) as process:
        try:
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                assert time.monotonic() < deadline, "the receiver did not start"
                time.sleep(0.2)
            assert httpx.post(f"{url}/webhooks/{token}", content=b"{}").status_code == 404
            metrics = httpx.get(f"{url}/metrics").text
            assert 'revops_webhook_requests_total{source="unknown",status="404"} 1.0' in metrics
        finally:
            process.terminate()
            _, err = process.communicate(timeout=30)
    assert_no_secret(err, ALL_SECRETS)
    line = next(line for line in err.splitlines() if "404" in line and "webhook" in line)
    if log_format == "json":
        entry = json.loads(line)
        assert (entry["source"], entry["http_status"]) == (MASK, 404)
    else:
        assert not line.startswith("{")
        assert f"webhook {MASK} -> 404 unknown_source" in line and f"source={MASK}" in line


@pytest.mark.parametrize("secret", ["Q", "k9", "zz7"])
def test_every_configured_secret_is_masked_whatever_its_length(
    monkeypatch: pytest.MonkeyPatch, secret: str
) -> None:
    monkeypatch.setenv("SLACK_BOT_TOKEN", secret)
    masker.refresh()
    text = f"token {secret} sent; attempts 1, 2 and 3 (in word{secret}s kept)"
    assert masker.mask(text) == f"token {MASK} sent; attempts 1, 2 and 3 (in word{secret}s kept)"
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "sent %s", (secret,), None)
    record.fields = {"token": secret, "attempts": 7, "nested": [secret]}
    line = JsonFormatter().format(record)
    parsed = json.loads(line)  # still one valid JSON object
    assert parsed["msg"] == f"sent {MASK}"
    assert parsed["token"] == MASK and parsed["nested"] == [MASK] and parsed["attempts"] == 7
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    masker.refresh()

"""Dagster's coloured console (what `dg dev` and a run worker print on stderr) masks secrets and
lead emails, for a run whose run config names no logger (Dagster's own console: sensors,
schedules, `dg launch`, the asset graph) and for one naming the location's `console`. An outside
API's error that quotes a lead prints masked whatever its own wording."""

import logging
from datetime import UTC, datetime

import dagster as dg
import pytest

import revops_pipelines.definitions  # noqa: F401  (what every code server and run worker loads)
from revops_pipelines.infra.dagster_logs import LOGGER_DEFS, MaskingLogger
from revops_pipelines.infra.errors import ApiError
from revops_pipelines.infra.logs import MASK, masker
from revops_pipelines.resources.attio import AttioError
from revops_pipelines.resources.slack import SlackError
from revops_pipelines.schedules import salesforce_full_sync_schedule

EMAIL = "maria.lopez@northwind.io"
SECRET = "attio-key-9Qx7-console"


@dg.asset
def chatty(context: dg.AssetExecutionContext) -> None:
    # Raw on purpose: what a careless log call or a library's message would print.
    context.log.info(f"lead {EMAIL} synced with key {SECRET}")
    raise RuntimeError(f"Attio refused {EMAIL} (key {SECRET})")


CHATTY = dg.Definitions(
    assets=[chatty], jobs=[dg.define_asset_job("chatty_job", [chatty])], loggers=LOGGER_DEFS
)


@pytest.mark.parametrize(
    "run_config",
    [{}, {"loggers": {"console": {"config": {"log_level": "DEBUG"}}}}],
    ids=["dagster's default console", "the location's console"],
)
def test_the_coloured_console_prints_a_lead_email_and_a_secret_masked(
    run_config: dict[str, object],
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    assert issubclass(logging.getLoggerClass(), MaskingLogger)  # set by the definitions
    monkeypatch.setenv("ATTIO_API_KEY", SECRET)
    masker.refresh()
    job = CHATTY.resolve_job_def("chatty_job")
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(
            instance=instance, run_config=run_config, raise_on_error=False
        )
    assert not result.success
    err = capfd.readouterr().err
    console = [line for line in err.splitlines() if " - chatty_job - " in line]
    # Dagster's console line (coloured on a terminal) for the message, the events and the error.
    logged = next(line for line in console if "synced with key" in line)
    assert " - dagster - INFO - chatty_job - " in logged
    assert logged.endswith(f" - chatty - lead m•••@northwind.io synced with key {MASK}")
    assert any("STEP_START" in line for line in console)  # every event, as Dagster prints
    # The failure's error, masked, is printed with the step's or the run's failure event (CI
    # once printed only the run's: which one is Dagster's business, the masking is ours).
    assert any("STEP_FAILURE" in line or "RUN_FAILURE" in line for line in console), err[-3000:]
    assert "Attio refused m•••@northwind.io (key ***)" in err  # the failure's error, below it
    assert EMAIL not in err and SECRET not in err


def test_the_weekly_full_sync_request_carries_the_jobs_config() -> None:
    # Its days are a range in tags, no partition key: the run gets the request's config only.
    tick = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 22, 3, tzinfo=UTC))
    request = salesforce_full_sync_schedule(tick)
    assert request.run_config["ops"]["attio_companies"]["config"] == {"full": True}
    assert request.run_config["ops"]["salesforce_accounts"]["config"] == {"method": "auto"}


def _subclasses(cls: type) -> list[type]:
    return [c for sub in cls.__subclasses__() for c in (sub, *_subclasses(sub))]


def test_an_api_error_that_words_its_own_text_is_masked_too() -> None:
    # What the console prints for a step that fails on Attio's refusal of a lead.
    refused = AttioError(
        method="PUT",
        path="objects/people/records",
        status_code=400,
        type="invalid_request_error",
        code="validation_type",
        message=f'The value "{EMAIL}" was refused.',
    )
    assert str(refused) == (
        'Attio PUT objects/people/records -> 400 validation_type: The value "m•••@northwind.io" '
        "was refused."
    )
    slack = SlackError(
        "chat.postMessage", "invalid_blocks", status_code=200, messages=[f"no user {EMAIL}"]
    )
    assert EMAIL not in str(slack) and "m•••@northwind.io" in str(slack)
    # Every API's error words its text in `describe`, under ApiError's masking `__str__`.
    errors = _subclasses(ApiError)
    assert {AttioError, SlackError} <= set(errors)
    assert [c.__name__ for c in errors if "__str__" in c.__dict__] == []

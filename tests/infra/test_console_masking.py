"""Dagster's coloured console (what `dg dev` and a run worker print on stderr) masks secrets and
lead emails: the code location's `console` is Dagster's own console logger with the masking
filter on its handler, and every job, and every schedule request that brings its own run config,
names it (a run config naming no logger gets Dagster's unmasked console). An outside API's error
that quotes a lead prints masked whatever its own wording."""

import logging
from datetime import UTC, datetime
from typing import Any

import dagster as dg
import pytest

from revops_pipelines.definitions import defs
from revops_pipelines.infra.dagster_logs import (
    LOGGER_DEFS,
    masked_console_logger,
    with_masked_console,
)
from revops_pipelines.infra.errors import ApiError
from revops_pipelines.infra.logs import MASK, masker
from revops_pipelines.resources.attio import AttioError
from revops_pipelines.resources.slack import SlackError
from revops_pipelines.schedules import (
    salesforce_full_sync_schedule,
    salesforce_incremental_sync_schedule,
)

EMAIL = "maria.lopez@northwind.io"
SECRET = "attio-key-9Qx7-console"


@dg.asset
def chatty(context: dg.AssetExecutionContext) -> None:
    # Raw on purpose: what a careless log call or a library's message would print.
    context.log.info(f"lead {EMAIL} synced with key {SECRET}")
    logging.getLogger("revops.test").info("unrelated")
    raise RuntimeError(f"Attio refused {EMAIL} (key {SECRET})")


chatty_job = dg.define_asset_job("chatty_job", [chatty], config=with_masked_console())


def test_the_coloured_console_prints_a_run_with_the_lead_email_and_secret_masked(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ATTIO_API_KEY", SECRET)
    masker.refresh()
    job = dg.Definitions(assets=[chatty], jobs=[chatty_job], loggers=LOGGER_DEFS).resolve_job_def(
        "chatty_job"
    )
    with dg.instance_for_test() as instance:
        result = job.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    err = capfd.readouterr().err
    console = [line for line in err.splitlines() if " - chatty_job - " in line]
    # Dagster's console line (coloured on a terminal) for the message, the events and the error.
    logged = next(line for line in console if "synced with key" in line)
    assert " - dagster - INFO - chatty_job - " in logged
    assert logged.endswith(f" - chatty - lead m•••@northwind.io synced with key {MASK}")
    assert any("STEP_START" in line for line in console)  # every event, as Dagster's default
    assert any("STEP_FAILURE" in line for line in console)
    assert EMAIL not in err and SECRET not in err


def _console_default(job: Any) -> Any:
    if job.partitions_def is not None:
        key = job.partitions_def.get_last_partition_key()
        return job.get_run_config_for_partition_key(key).get("loggers", {}).get("console")
    field = job.run_config_schema.config_type.fields["loggers"].config_type.fields["console"]
    return field.default_value if field.default_provided else None


def test_every_job_and_sync_schedule_runs_the_masked_console() -> None:
    repository = defs.get_repository_def()
    jobs = [j for j in repository.get_all_jobs() if not j.name.startswith("__")]
    assert len(jobs) >= 7
    for job in jobs:
        assert job.loggers["console"] is masked_console_logger, job.name
        assert _console_default(job) == {"config": {"log_level": "DEBUG"}}, job.name
    tick = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 11, 22, 3, tzinfo=UTC))
    requests = [*salesforce_incremental_sync_schedule(tick), salesforce_full_sync_schedule(tick)]
    for request in requests:
        assert request.run_config["loggers"]["console"] == {"config": {"log_level": "DEBUG"}}
    # The weekly full sync's own request (a range, no partition key) carries the job's config.
    assert requests[-1].run_config["ops"]["attio_companies"]["config"] == {"full": True}


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

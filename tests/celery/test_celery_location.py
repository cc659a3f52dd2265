"""The Celery code location and the workers' config agree, and a missing extra is named."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from dagster_celery.cli import get_validated_config
from ruamel.yaml import YAML

from revops_pipelines.definitions_celery import (
    BROKER_URL_ENV,
    CELERY_EXECUTOR,
    CELERY_SETTINGS,
    defs,
)
from tests.celery.workers import REPO, WORKER_CONFIG


def test_the_celery_location_hands_the_bulk_jobs_to_celery_and_keeps_leads_in_process() -> None:
    executors = {j.name: j.executor_def.name for j in defs.resolve_all_job_defs()}
    inbox = {"inbound_leads_job", "attio_events_job"}
    assert {"inbound_leads_job", "salesforce_incremental_sync_job"} <= set(executors)
    # By default a lead's steps stay in its run's process (speed to lead, jobs.py).
    assert {executors[name] for name in inbox} == {"in_process"}
    assert {n: e for n, e in executors.items() if n not in inbox} == dict.fromkeys(
        set(executors) - inbox, CELERY_EXECUTOR.name
    )


def test_with_inbox_executor_location_default_every_job_goes_to_celery() -> None:
    code = (
        "from revops_pipelines.definitions_celery import defs, CELERY_EXECUTOR\n"
        "names = {j.executor_def.name for j in defs.resolve_all_job_defs()}\n"
        "assert names == {CELERY_EXECUTOR.name}, names\n"
        "print('ok')"
    )
    env = {**os.environ, "REVOPS_INBOX_EXECUTOR": "location_default"}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0 and "ok" in done.stdout, done.stderr[-2000:]


def test_the_workers_read_the_broker_the_runs_use(monkeypatch: pytest.MonkeyPatch) -> None:
    raw = YAML(typ="safe").load(WORKER_CONFIG.read_text())
    assert raw["execution"]["config"]["broker"] == {"env": BROKER_URL_ENV}
    monkeypatch.setenv(BROKER_URL_ENV, "pyamqp://revops:secret@mq.internal:5672/revops")
    # What `dagster-celery worker start -y deploy/celery.yaml` validates and writes for Celery.
    config = get_validated_config(str(WORKER_CONFIG))
    assert config["broker"] == "pyamqp://revops:secret@mq.internal:5672/revops"
    assert config["backend"] == "rpc://"
    # The workers' Celery settings are the ones the runs' executor uses.
    assert config["config_source"] == CELERY_SETTINGS


def test_without_the_extra_the_import_error_says_how_to_install_it() -> None:
    code = (
        "import sys; sys.modules['dagster_celery'] = None\n"
        "import revops_pipelines.definitions_celery"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=180
    )
    assert done.returncode != 0
    assert "pip install 'revops-pipelines[celery]'" in done.stderr, done.stderr[-2000:]

"""The Celery code location and the workers' config agree, and a missing extra is named."""

from __future__ import annotations

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


def test_every_job_of_the_celery_location_hands_its_steps_to_celery() -> None:
    jobs = defs.resolve_all_job_defs()
    assert {"inbound_leads_job", "salesforce_incremental_sync_job"} <= {j.name for j in jobs}
    assert {j.name: j.executor_def.name for j in jobs} == dict.fromkeys(
        [j.name for j in jobs], CELERY_EXECUTOR.name
    )


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

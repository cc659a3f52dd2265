"""The code location for a deployment whose steps run on Celery workers (dagster-celery).

The same assets, jobs, sensors, schedules and resources as `revops_pipelines.definitions`; only
the executor differs: each step of a run is a Celery task on RabbitMQ, executed by whichever
worker (`dagster-celery worker start -A dagster_celery.app -y celery.yaml`) takes it. A job that
names an executor of its own keeps it. Point the workspace at this module instead of
`revops_pipelines.definitions` (deploy/README.md, "Celery workers").

The broker URL carries a password in production, so it is read from `DAGSTER_CELERY_BROKER_URL`
when a run starts, never written here; the workers read the same variable through their
`celery.yaml`. Results travel back over RabbitMQ too (`rpc://`, what dagster-celery is tested with).
"""

from __future__ import annotations

import dagster as dg

from revops_pipelines.definitions import defs as _defs

try:
    from dagster_celery import celery_executor
except ImportError as exc:  # the optional extra is missing: say which one
    raise ImportError(
        "revops_pipelines.definitions_celery needs dagster-celery: "
        "pip install 'revops-pipelines[celery]'"
    ) from exc

BROKER_URL_ENV = "DAGSTER_CELERY_BROKER_URL"
# As in deploy/celery.yaml: a step is acknowledged when done, so a busy worker reserves no step
# it cannot start (a lead's step never waits behind a long sync step while another worker idles).
CELERY_SETTINGS = {"task_acks_late": True}

CELERY_EXECUTOR = celery_executor.configured(
    {"broker": {"env": BROKER_URL_ENV}, "backend": "rpc://", "config_source": CELERY_SETTINGS},
    name="revops_celery",
)

defs = dg.Definitions.merge(_defs, dg.Definitions(executor=CELERY_EXECUTOR))

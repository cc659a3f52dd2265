"""JSON-lines logs for Dagster runs: the `json` logger of the code location.

Each line carries the run's context (`run_id`, `job_name`, `step_key`, `op_name`; for Dagster's
own events `event_type` and, on a failure, the masked `error`) and the call's structured fields
(`inbox_id` where a log is about one inbox row: see `logs.log_fields`), through the project's one
formatter and masking filter (`logs.py`).

Human logs stay the default: Dagster's coloured console, with secrets and personal data masked.
A run whose run config names `console` gets the location's `masked_console_logger`. A run config
that names no logger (a sensor's, a schedule's, `dg launch`, a materialization from the asset
graph) gets Dagster's own console, which Dagster builds for each run with
`logging.getLoggerClass()`; `mask_new_loggers` (called by `definitions.py`, so in every code
server, run worker and step process) makes that class one that masks each record before its
handlers see it. A default run config on every job could not do it: Dagster bakes a dict config
of an unpartitioned job together with the definitions' resource config, and leaves its hidden
asset job without one.

JSON is opt-in per run (run config `loggers: {json: {}}`, printed beside the console), or for
every run of a deployment through the instance's `python_logs` handler in `dagster.yaml`
(`DAGSTER_YAML_HANDLER` below).
"""

from __future__ import annotations

import logging
from typing import Any

import dagster as dg
from dagster._core.log_manager import LOG_RECORD_METADATA_ATTR

from revops_pipelines.infra.logs import JsonFormatter, SecretMaskingFilter, StderrHandler

# The instance-wide alternative (every run, also Dagster's own events), for `dagster.yaml`
# (Dagster marks yaml-defined log handlers beta). Dagster's colored console keeps printing too.
DAGSTER_YAML_HANDLER = """\
python_logs:
  dagster_handler_config:
    handlers:
      revopsJson:
        class: revops_pipelines.infra.logs.StderrHandler
        level: INFO
        formatter: revopsJson
        filters: [revopsMask]
    formatters:
      revopsJson:
        (): revops_pipelines.infra.dagster_logs.DagsterJsonFormatter
    filters:
      revopsMask:
        (): revops_pipelines.infra.logs.SecretMaskingFilter
"""
_CONTEXT_KEYS = ("run_id", "job_name", "step_key", "op_name", "resource_name")


class DagsterJsonFormatter(JsonFormatter):
    """The project's JSON line, with the message as the code wrote it (not Dagster's
    "job - run_id - step - message" line) and the run's context as fields."""

    def entry(self, record: logging.LogRecord) -> dict[str, Any]:
        entry = super().entry(record)
        meta = getattr(record, LOG_RECORD_METADATA_ATTR, None)
        if not isinstance(meta, dict):  # a plain Python record: nothing to add
            return entry
        entry["msg"] = meta.get("orig_message") or entry["msg"]
        entry.update({key: meta[key] for key in _CONTEXT_KEYS if meta.get(key) is not None})
        event = meta.get("dagster_event")
        if event is not None:
            entry["event_type"] = event.event_type_value
            error = getattr(event.event_specific_data, "error", None)
            if error is not None:
                entry["error"] = error.to_string()
        return entry


@dg.logger(
    config_schema={
        "log_level": dg.Field(str, is_required=False, default_value="INFO"),
        "name": dg.Field(str, is_required=False, default_value="revops"),
    },
    description="JSON lines on stderr with run_id, step_key and inbox ids; secrets masked.",
)
def json_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    config = init_context.logger_config
    logger = logging.Logger(config["name"], level=config["log_level"].upper())
    handler = StderrHandler()
    handler.setFormatter(DagsterJsonFormatter())
    handler.addFilter(SecretMaskingFilter())
    logger.addHandler(handler)
    return logger


@dg.logger(
    config_schema=dg.colored_console_logger.config_schema,
    description="Dagster's coloured console lines, with secrets and personal data masked.",
)
def masked_console_logger(init_context: dg.InitLoggerContext) -> logging.Logger:
    # Dagster's own console logger (its format and colours), with our filter on its handler.
    logger = dg.colored_console_logger.logger_fn(init_context)
    for handler in logger.handlers:
        handler.addFilter(SecretMaskingFilter())
    return logger


LOGGER_DEFS: dict[str, dg.LoggerDefinition] = {
    "console": masked_console_logger,
    "json": json_logger,
}


class MaskingLogger(logging.Logger):
    """A logger that masks each record (message, fields, exception) before any handler sees it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.addFilter(SecretMaskingFilter())


def mask_new_loggers() -> None:
    """Every logger created from now on in this process masks each record before any handler
    sees it (idempotent). Dagster creates the console logger of a run that names no logger this
    way (`dagster._utils.log.create_console_logger`), as `logging.getLogger` does for new names.
    A logger class someone else set keeps its behaviour, with the masking mixed in."""
    current = logging.getLoggerClass()
    if issubclass(current, MaskingLogger):
        return
    masking = (
        MaskingLogger
        if current is logging.Logger
        else type(f"Masking{current.__name__}", (MaskingLogger, current), {})
    )
    logging.setLoggerClass(masking)

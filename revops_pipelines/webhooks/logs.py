"""The receiver's logs, through the project's one JSON formatter and masking filter
(`revops_pipelines/infra/logs.py`): JSON lines where the environment's `log_format` says `json`
(staging and production profiles, or `REVOPS_LOG_FORMAT=json`), human lines otherwise. Callers
still pass only safe fields (never signatures or payloads); masking is the net under that rule,
not a licence to log secrets."""

from __future__ import annotations

import logging
from typing import Any, Literal

from revops_pipelines.infra.logs import JsonFormatter, SecretMaskingFilter, StderrHandler

__all__ = [
    "HumanFormatter",
    "JsonFormatter",
    "configure_json_logging",
    "configure_logging",
    "log_event",
]

logger = logging.getLogger("revops.webhooks")


def log_event(level: int, message: str, **fields: Any) -> None:
    logger.log(level, message, extra={"fields": fields})


class HumanFormatter(logging.Formatter):
    """`time level logger message key=value ...`: the same fields as the JSON line, for a
    terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = getattr(record, "fields", None)
        if not fields:
            return line
        head, newline, rest = line.partition("\n")  # fields before any traceback
        pairs = " ".join(f"{key}={value}" for key, value in fields.items())
        return f"{head} {pairs}{newline}{rest}"


def configure_logging(log_format: Literal["human", "json"], level: str = "info") -> None:
    """Send the receiver's and uvicorn's logs to stderr, masked, as JSON or human lines."""
    handler = StderrHandler()
    handler.setFormatter(JsonFormatter() if log_format == "json" else HumanFormatter())
    handler.addFilter(SecretMaskingFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())


def configure_json_logging(level: str = "info") -> None:
    configure_logging("json", level)

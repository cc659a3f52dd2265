"""The receiver's logs, through the project's one JSON formatter and masking filter
(`revops_pipelines/infra/logs.py`): JSON lines where the environment's `log_format` says `json`
(staging and production profiles, or `REVOPS_LOG_FORMAT=json`), human lines otherwise. Callers
still pass only safe fields (never signatures or payloads); masking is the net under that rule,
not a licence to log secrets."""

from __future__ import annotations

import json
import logging
import re
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


# Control characters (a newline above all) and the characters that delimit a `key=value` pair.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NEEDS_QUOTES = re.compile(r"[\s\"=\\]")


def escape_text(text: str) -> str:
    """Control characters as escapes (`\\n`, `\\x1b`): a value from a request (a source name
    from the URL path, percent-decoded) can never start a forged log line or colour a terminal."""
    return _UNSAFE.sub(lambda m: m.group(0).encode("unicode_escape").decode("ascii"), text)


def field_value(value: Any) -> str:
    """One `key=value` value: escaped, and quoted (JSON style) when it holds spaces, quotes or
    `=`, so every pair reads back unambiguously."""
    text = str(value)
    if _NEEDS_QUOTES.search(text):  # json.dumps escapes quotes and C0 controls; the rest below
        return escape_text(json.dumps(text, ensure_ascii=False))
    return escape_text(text)


class HumanFormatter(logging.Formatter):
    """`time level logger message key=value ...`: the same fields as the JSON line, for a
    terminal. The message and every field are escaped; a traceback keeps its lines."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s %(message)s")

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = escape_text(record.message)
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = getattr(record, "fields", None)
        if not fields:
            return line
        head, newline, rest = line.partition("\n")  # fields before any traceback
        pairs = " ".join(f"{escape_text(str(key))}={field_value(v)}" for key, v in fields.items())
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

"""Structured logs for the whole project: one JSON-lines formatter and one masking filter,
used by the webhook receiver (`webhooks/logs.py`) and by Dagster runs (`dagster_logs.py`).

Masking replaces with `***` the value of every configured secret (the variables in
`SECRET_ENV_VARS`, the password inside `REVOPS_DATABASE_URL`, and secrets handed to
`register_secrets` in code, such as the receiver's signing secrets) and any `Bearer <token>`,
wherever it appears: the message, the structured fields, the exception text. Personal data
(email addresses, international phone numbers) is masked the same way (`m•••@northwind.io`,
`domain/personal_data.py`). The environment is
reread at most once a second (a secret set later is masked from then on). The formatter masks
what it writes even without the filter, so a JSON line can never carry a secret; the filter masks
the record itself for the other handlers on the same logger (plain-text ones, uvicorn's).

Why no python-json-logger: its value is picking `extra` attributes off the record, but our records
carry their fields in one `fields` dict (and Dagster's carry `dagster_meta` with event objects that
are not JSON), and every value must be masked before it is written; the formatter below is short.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import threading
import time
import traceback
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, NamedTuple, TextIO
from urllib.parse import unquote, urlsplit

from revops_pipelines.domain.personal_data import mask_personal

# Every secret the project reads from the environment (README "Configuration"). The webhook
# signing secrets must match `webhooks/sources.py` (a test keeps them in step).
SECRET_ENV_VARS = (
    "ATTIO_API_KEY",
    "ATTIO_WEBHOOK_SECRET",
    "SALESFORCE_ACCESS_TOKEN",
    "SALESFORCE_PASSWORD",
    "SALESFORCE_SECURITY_TOKEN",
    "SLACK_BOT_TOKEN",
    "TYPEFORM_WEBHOOK_SECRET",
    "TALLY_WEBHOOK_SECRET",
    "SEGMENT_WEBHOOK_SECRET",
    "ENRICHMENT_API_KEY",
    "OUTREACH_ACCESS_TOKEN",
)
DATABASE_URL_ENV = "REVOPS_DATABASE_URL"
MASK = "***"
# Every configured secret is masked, whatever its length. Shorter than this, only where it
# stands alone (not inside a longer word or number): replacing every "ab" inside other words
# would garble the logs without hiding anything more.
MIN_SECRET_CHARS = 4
# The token charset has no quote or backslash, so inside a JSON line a match stays in one string.
_BEARER = re.compile(r"(?i:\b(bearer)\s+[A-Za-z0-9\-._~+/]+=*)")

_registered: set[str] = set()
_registered_lock = threading.Lock()


def register_secrets(values: Iterable[str | None]) -> None:
    """Mask these values too (secrets the code was given directly rather than via the env)."""
    with _registered_lock:
        _registered.update(v.strip() for v in values if v and v.strip())
    masker.refresh()


@lru_cache(maxsize=8)
def _url_passwords(url: str) -> tuple[str, ...]:
    """The password of a database URL, as written (percent-encoded) and decoded."""
    try:
        raw = urlsplit(url).password
    except ValueError:
        return ()
    return tuple({raw, unquote(raw)}) if raw else ()


def secret_values(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The secret values to mask now, longest first (so a secret containing another is masked
    whole)."""
    env = os.environ if environ is None else environ
    values = {env.get(name, "").strip() for name in SECRET_ENV_VARS}
    values.update(_url_passwords(env.get(DATABASE_URL_ENV, "")))
    values.update(_registered)
    return tuple(sorted((v for v in values if v), key=lambda v: -len(v)))


class _MaskState(NamedTuple):
    checked_at: float
    values: tuple[str, ...]
    json_values: tuple[str, ...]
    plain: re.Pattern[str]
    as_json: re.Pattern[str]


def _replace(match: re.Match[str]) -> str:
    bearer = match.group(1)
    return f"{bearer} {MASK}" if bearer else MASK


class SecretMasker:
    """Masks secret values and bearer tokens in text, in nested fields, and in a JSON line.

    One regular expression holds the bearer rule and every secret, and it runs only when a plain
    substring test finds something to mask (a regex scan of a clean line cost more than
    formatting it). The environment is reread at most every `REFRESH_SECONDS`, for the same
    reason; `refresh()` forces it after a secret changed in-process.
    """

    REFRESH_SECONDS = 1.0

    def __init__(self) -> None:
        # Swapped whole, so threads never see half an update.
        self._state = _MaskState(float("-inf"), (), (), _BEARER, _BEARER)

    def has_short(self) -> bool:
        """Whether a configured secret is shorter than `MIN_SECRET_CHARS` (see `mask_json`)."""
        return any(len(v) < MIN_SECRET_CHARS for v in self._current().values)

    def refresh(self) -> None:
        self._state = self._state._replace(checked_at=float("-inf"))

    def _current(self) -> _MaskState:
        state = self._state
        now = time.monotonic()
        if now - state.checked_at < self.REFRESH_SECONDS:
            return state
        values = secret_values()
        if values != state.values:
            # Inside a JSON line a secret appears escaped (quotes, backslashes, non-ASCII).
            # Short ones are left to `has_short` callers: masking a bare "1" in a JSON line
            # could replace a number and break the line.
            json_values = tuple(json.dumps(v)[1:-1] for v in values if len(v) >= MIN_SECRET_CHARS)
            state = _MaskState(now, values, json_values, _compile(values), _compile(json_values))
        else:
            state = state._replace(checked_at=now)
        self._state = state
        return state

    @staticmethod
    def _found(text: str, values: tuple[str, ...]) -> bool:
        return "earer" in text.lower() or any(v in text for v in values)

    @staticmethod
    def _personal(text: str) -> bool:
        return "@" in text or "+" in text or "%40" in text

    def mask(self, text: str) -> str:
        """Secrets, bearer tokens and personal data (emails, phone numbers) masked."""
        state = self._current()
        if self._found(text, state.values):
            text = state.plain.sub(_replace, text)
        return mask_personal(text) if self._personal(text) else text

    def mask_json(self, line: str) -> str:
        """Mask the secrets of a serialized JSON line; the result is still valid JSON. (Personal
        data and secrets shorter than `MIN_SECRET_CHARS` are masked before serializing, see
        `JsonFormatter`: an address may straddle a JSON escape, a short secret a number.)"""
        state = self._current()
        return state.as_json.sub(_replace, line) if self._found(line, state.json_values) else line

    def mask_value(self, value: Any) -> Any:
        """Mask strings inside dicts, lists and tuples, and any other object as its `str`; a
        value with nothing to mask comes back as it is (one test over all its text)."""
        strings: list[str] = []
        _strings(value, strings)
        text = "\n".join(strings)
        if not (self._found(text, self._current().values) or self._personal(text)):
            return value
        return self._mask_deep(value)

    def mask_personal_value(self, value: Any) -> Any:
        """Personal data masked inside a (nested) value; secrets untouched."""
        strings: list[str] = []
        _strings(value, strings)
        return _personal_deep(value) if self._personal("\n".join(strings)) else value

    def _mask_deep(self, value: Any) -> Any:
        if value is None or isinstance(value, bool | int | float):
            return value
        if isinstance(value, str):
            return self.mask(value)
        if isinstance(value, Mapping):
            return {self.mask(str(k)): self._mask_deep(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self._mask_deep(v) for v in value]
        return self.mask(str(value))


def _personal_deep(value: Any) -> Any:
    if value is None or isinstance(value, _NUMBERS):
        return value
    if isinstance(value, str):
        return mask_personal(value)
    if isinstance(value, _MAPPINGS):
        return {mask_personal(str(k)): _personal_deep(v) for k, v in value.items()}
    if isinstance(value, _SEQUENCES):
        return [_personal_deep(v) for v in value]
    return mask_personal(str(value))


def _strings(value: Any, out: list[str]) -> None:
    """Every text inside `value` (keys too), as `mask_value` would mask it. (Tuples of types,
    not `X | Y`, in isinstance: it runs for every field of every log line.)"""
    if isinstance(value, str):
        out.append(value)
    elif value is None or isinstance(value, _NUMBERS):
        return
    elif isinstance(value, _MAPPINGS):
        for key, item in value.items():
            out.append(str(key))
            _strings(item, out)
    elif isinstance(value, _SEQUENCES):
        for item in value:
            _strings(item, out)
    else:
        out.append(str(value))


_NUMBERS = (bool, int, float)
_MAPPINGS = (dict, Mapping)
_SEQUENCES = (list, tuple, set, frozenset)


def _secret_pattern(value: str) -> str:
    if len(value) >= MIN_SECRET_CHARS:
        return re.escape(value)
    return rf"(?<![A-Za-z0-9]){re.escape(value)}(?![A-Za-z0-9])"


def _compile(values: tuple[str, ...]) -> re.Pattern[str]:
    return re.compile("|".join([_BEARER.pattern, *map(_secret_pattern, values)]))


masker = SecretMasker()
mask = masker.mask


def _exception_text(record: logging.LogRecord) -> str | None:
    if record.exc_text:
        return record.exc_text
    if record.exc_info and record.exc_info[0] is not None:
        return "".join(traceback.format_exception(*record.exc_info)).rstrip()
    return None


class SecretMaskingFilter(logging.Filter):
    """Attach to a handler: masks the record's message, `fields` and exception text in place, so
    whatever formatter the handler uses writes no secret."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = masker.mask(record.getMessage())
        record.args = None
        fields = getattr(record, "fields", None)
        if fields:
            record.fields = masker.mask_value(fields)
        text = _exception_text(record)
        if text is not None:
            record.exc_text = masker.mask(text)  # formatters print exc_text when it is set
        if record.stack_info:
            record.stack_info = masker.mask(record.stack_info)
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ts, level, logger, msg, the record's `fields` flattened in, and
    for an exception its type, message and traceback. Every value is masked."""

    def entry(self, record: logging.LogRecord) -> dict[str, Any]:
        """The line's fields before masking; subclasses add their context (see dagster_logs)."""
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        entry.update(getattr(record, "fields", None) or {})
        if record.exc_info and record.exc_info[0] is not None:
            entry["exception"] = record.exc_info[0].__name__
            entry["error"] = str(record.exc_info[1])
            entry["traceback"] = _exception_text(record)
        return entry

    def format(self, record: logging.LogRecord) -> str:
        # Personal data field by field (rarely present: a cheap test first); secrets in one pass
        # over the finished line, much cheaper than masking field by field.
        entry = self.entry(record)
        short = masker.has_short()
        entry = masker.mask_value(entry) if short else masker.mask_personal_value(entry)
        return masker.mask_json(json.dumps(entry, default=str))


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the `sys.stderr` of the moment, not the one at set-up: Dagster and pytest swap it
    to capture output, and a handler left holding a closed stream loses lines."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


def log_fields(logger: logging.Logger, level: int, message: str, **fields: Any) -> None:
    """Log `message` with structured `fields` (e.g. `inbox_id`), masked at the source: a Dagster
    `context.log` also stores the message in the run's event log and shows it in the UI, where no
    handler filter reaches."""
    logger.log(level, masker.mask(message), extra={"fields": masker.mask_value(fields)})

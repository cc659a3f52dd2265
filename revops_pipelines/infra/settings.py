"""The running environment's settings: one validated model, one profile per `REVOPS_ENV`.

`REVOPS_ENV` (development | staging | production, default development) picks a profile of rate
budgets and concurrency, retry caps, circuit-breaker thresholds, cache TTLs, the alert channel
and the log format. Every value can still be overridden by its own environment variable
(`REVOPS_<FIELD>`, e.g. `REVOPS_ATTIO_WRITE_RATE=10`; the alert channel keeps DESIGN's
`SLACK_ALERTS_CHANNEL`, the record cache's Redis is `REDIS_URL`). A bad value fails with the
variable's name. Secrets are not settings: they stay in their own variables, read as `dg.EnvVar`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import AliasChoices, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, PydanticBaseSettingsSource, SettingsConfigDict

from revops_pipelines.infra.logs import SECRET_ENV_VARS

Environment = Literal["development", "staging", "production"]
ENV_VAR = "REVOPS_ENV"
PREFIX = "REVOPS_"

# Why the numbers differ: development keeps failures quick and loud (few retries, short TTLs so
# a schema change shows at once); production rides out longer outages, caches longer and leaves
# a fifth of Attio's 25 writes/s to the workspace's other integrations.
PROFILES: dict[str, dict[str, Any]] = {
    "development": {
        "attio_write_rate": 25.0,
        "attio_read_rate": 100.0,
        "attio_max_concurrency": 8,
        "retry_max_attempts": 4,
        "retry_max_wait_seconds": 30.0,
        "breaker_fail_max": 5,
        "breaker_reset_seconds": 10.0,
        "schema_cache_ttl_seconds": 60.0,
        "record_cache_ttl_seconds": 30.0,
        "alerts_channel": "#revops-dev-alerts",
        "log_format": "human",
        "inbox_retry_base_seconds": 5.0,
        "inbox_retry_max_seconds": 120.0,
    },
    "staging": {
        "attio_write_rate": 25.0,
        "attio_read_rate": 100.0,
        "attio_max_concurrency": 16,
        "retry_max_attempts": 6,
        "retry_max_wait_seconds": 120.0,
        "breaker_fail_max": 5,
        "breaker_reset_seconds": 30.0,
        "schema_cache_ttl_seconds": 300.0,
        "record_cache_ttl_seconds": 60.0,
        "alerts_channel": "#revops-staging-alerts",
        "log_format": "json",
        "inbox_retry_base_seconds": 10.0,
        "inbox_retry_max_seconds": 600.0,
    },
    "production": {
        "attio_write_rate": 20.0,
        "attio_read_rate": 80.0,
        "attio_max_concurrency": 16,
        "retry_max_attempts": 8,
        "retry_max_wait_seconds": 300.0,
        "breaker_fail_max": 5,
        "breaker_reset_seconds": 60.0,
        "schema_cache_ttl_seconds": 900.0,
        "record_cache_ttl_seconds": 120.0,
        "alerts_channel": "#revops-alerts",
        "log_format": "json",
        "inbox_retry_base_seconds": 15.0,
        "inbox_retry_max_seconds": 900.0,
    },
}


class SettingsError(ValueError):
    """A setting's environment variable holds a value the model refuses."""


class RevopsSettings(BaseSettings):
    """Every tunable of the running environment (the profile, then the variables over it)."""

    model_config = SettingsConfigDict(
        env_prefix=PREFIX, extra="ignore", frozen=True, populate_by_name=True
    )

    env: Environment = "development"
    attio_write_rate: float = Field(default=25.0, gt=0, description="Attio writes per second.")
    attio_read_rate: float = Field(default=100.0, gt=0, description="Attio reads per second.")
    attio_max_concurrency: int = Field(default=16, ge=1, description="Attio requests in flight.")
    retry_max_attempts: int = Field(default=6, ge=1, description="Attempts per API call.")
    retry_max_wait_seconds: float = Field(default=120.0, gt=0, description="Retry wait cap.")
    breaker_fail_max: int = Field(default=5, ge=1, description="Failures that open a breaker.")
    breaker_reset_seconds: float = Field(default=30.0, gt=0, description="Open before a probe.")
    schema_cache_ttl_seconds: float = Field(default=300.0, ge=0, description="Attio schema TTL.")
    record_cache_ttl_seconds: float = Field(default=60.0, ge=0, description="Record cache TTL.")
    record_cache_size: int = Field(default=10_000, ge=0, description="In-memory LRU entries.")
    redis_url: str | None = Field(
        default=None,
        validation_alias=AliasChoices("REDIS_URL", f"{PREFIX}REDIS_URL"),
        description="Shared rate budgets and record cache in Redis (else per process).",
    )
    rate_budget_prefix: str = Field(
        default="revops:budget", min_length=1, description="Namespace of the shared budgets."
    )
    rate_budget_margin_ms: int = Field(
        default=10, ge=0, le=1000, description="Budget window beyond the API's (clock rounding)."
    )
    rate_budget_transit_ms: int | None = Field(
        default=None,
        ge=0,
        le=60_000,
        description="Count a sent request from its sending plus this allowance, not from its "
        "answer (more throughput; a request the API sees later may meet a 429). Unset: from "
        "the answer.",
    )
    rate_budget_fallback_fraction: float = Field(
        default=0.25, gt=0, le=1, description="Share per process while the budget store is down."
    )
    alerts_channel: str = Field(
        default="#revops-alerts",
        min_length=2,
        validation_alias=AliasChoices("SLACK_ALERTS_CHANNEL", f"{PREFIX}ALERTS_CHANNEL"),
        description="Slack channel for run-failure alerts.",
    )
    log_format: Literal["human", "json"] = Field(default="human", description="Log lines.")
    # in_process: a lead's steps share its run's process (no per-step start-up: the speed-to-lead
    # path). location_default: the code location's executor decides, e.g. Celery workers take
    # the lead steps too (definitions_celery), at about a second of queueing per step.
    inbox_executor: Literal["in_process", "location_default"] = Field(
        default="in_process", description="Executor of the inbox jobs."
    )
    webhook_max_body_bytes: int = Field(
        default=1024 * 1024, gt=0, description="Largest webhook body the receiver stores (413)."
    )
    # A handed-back inbox row waits base * 2^(attempts - 1), capped, before its next run: a blip
    # is retried within seconds, an outage is not hammered.
    inbox_retry_base_seconds: float = Field(
        default=10.0, gt=0, description="Wait before a handed-back inbox row's first retry."
    )
    inbox_retry_max_seconds: float = Field(
        default=600.0, gt=0, description="Longest wait between two attempts of an inbox row."
    )
    # A run that holds inbox claims (or writes a sync) beats every `run_heartbeat_seconds`; one
    # silent for `run_heartbeat_lease_seconds` is marked failed (sensors/dead_runs.py), which
    # hands its rows back. The lease spans several beats so a slow moment is not a death.
    run_heartbeat_seconds: float = Field(
        default=15.0, gt=0, description="How often a running run records that it is alive."
    )
    run_heartbeat_lease_seconds: float = Field(
        default=90.0, gt=0, description="Silence after which a started run is taken for dead."
    )
    # Attio's Idempotency-Key is not signed: an identical body within this window is a replay
    # (or a burst or echo of the same change, which the handler would collapse anyway). Attio's
    # body names the record and attribute, not the value, so two real changes of one attribute by
    # one actor within the window are one event too (a deal won, reopened and won again within
    # five minutes is announced once). Longer stops later replays and merges more.
    webhook_replay_window_seconds: float = Field(
        default=300.0, ge=0, description="Identical Attio bodies within it are duplicates."
    )
    dagster_graphql_url: str | None = Field(
        default=None,
        description=(
            "The Dagster webserver's GraphQL endpoint (http://host:3000/graphql): the receiver "
            "asks it to launch a stored lead's run at once. Unset: the inbox sensor alone."
        ),
    )
    dagster_location_name: str = Field(
        default="revops_pipelines", min_length=1, description="Code location of the inbox jobs."
    )

    @model_validator(mode="after")
    def _lease_spans_several_beats(self) -> RevopsSettings:
        if self.run_heartbeat_lease_seconds < 3 * self.run_heartbeat_seconds:
            raise ValueError(
                f"{variable_for('run_heartbeat_lease_seconds')}="
                f"{self.run_heartbeat_lease_seconds:g} must be at least three heartbeats "
                f"({variable_for('run_heartbeat_seconds')}={self.run_heartbeat_seconds:g}), "
                "or one late beat would fail a live run"
            )
        return self

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The environment overrides the profile, which `load_settings` passes as init values.
        return env_settings, init_settings

    def public(self) -> dict[str, Any]:
        """Every setting by name, the Redis URL's password masked."""
        values = self.model_dump()
        if values.get("redis_url"):
            values["redis_url"] = mask_url(values["redis_url"])
        return values


def variable_for(field: str) -> str:
    """The environment variable that overrides a setting."""
    info = RevopsSettings.model_fields[field]
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        return str(alias.choices[0])
    return f"{PREFIX}{field.upper()}"


def mask_url(url: str) -> str:
    """A URL with any password replaced by ***."""
    return re.sub(r"(://[^:/@]*:)[^@]*@", r"\1***@", url)


def load_settings() -> RevopsSettings:
    """The settings of the environment `REVOPS_ENV` names, with the variables applied."""
    name = os.environ.get(ENV_VAR) or "development"
    if name not in PROFILES:
        raise SettingsError(
            f"{ENV_VAR}={name!r} is not an environment; use one of {list(PROFILES)}"
        )
    try:
        return RevopsSettings(**{**PROFILES[name], "env": name})
    except ValidationError as exc:
        problems = []
        for error in exc.errors():
            if not error["loc"]:  # a rule over several fields: its message names them
                problems.append(str(error["msg"]).removeprefix("Value error, "))
                continue
            field = str(error["loc"][0])
            variable = variable_for(field) if field in RevopsSettings.model_fields else field
            problems.append(f"{variable}={os.environ.get(variable)!r}: {error['msg']}")
        raise SettingsError("bad setting: " + "; ".join(problems)) from None


def secret_status(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Each secret variable as `set` or `not set`; never its value."""
    env = os.environ if environ is None else environ
    return {name: ("set (hidden)" if env.get(name) else "not set") for name in SECRET_ENV_VARS}

"""The receiver's settings, given explicitly to `create_app` or read from the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Annotated

from pydantic import TypeAdapter

from revops_pipelines.infra.settings import RevopsSettings, load_settings, variable_for
from revops_pipelines.store import engine as store_engine
from revops_pipelines.webhooks.fast_path import FastPathSettings
from revops_pipelines.webhooks.sources import SOURCES

HUBSPOT_SECRET_ENV = "HUBSPOT_CLIENT_SECRET"
HUBSPOT_URL_ENV = "HUBSPOT_WEBHOOK_URL"  # the public URL HubSpot calls, when behind a proxy
MAX_BODY_FIELD = "webhook_max_body_bytes"
MAX_BODY_BYTES_ENV = variable_for(MAX_BODY_FIELD)  # REVOPS_WEBHOOK_MAX_BODY_BYTES
DEFAULT_MAX_BODY_BYTES: int = RevopsSettings.model_fields[MAX_BODY_FIELD].default
DEFAULT_REPLAY_WINDOW = timedelta(
    seconds=RevopsSettings.model_fields["webhook_replay_window_seconds"].default
)
# A signing secret is the only thing between the internet and the inbox: a short one can be
# guessed offline from one captured delivery. 16 characters is what a random hex or base64 secret
# of 64+ bits needs; every provider's generated secret is longer.
MIN_WEBHOOK_SECRET_CHARS = 16


class WeakSecretError(ValueError):
    """A webhook secret in the environment is too short; the message names the variable."""


def weak_secrets(environ: Mapping[str, str]) -> list[str]:
    """The variables of `SOURCES` set to a secret shorter than `MIN_WEBHOOK_SECRET_CHARS`."""
    return [
        source.secret_env
        for source in SOURCES.values()
        if 0 < len(environ.get(source.secret_env, "").strip()) < MIN_WEBHOOK_SECRET_CHARS
    ]


GRAPHQL_URL_ENV = variable_for("dagster_graphql_url")  # REVOPS_DAGSTER_GRAPHQL_URL
LOCATION_ENV = variable_for("dagster_location_name")  # REVOPS_DAGSTER_LOCATION_NAME


def max_body_bytes_setting(environ: Mapping[str, str] | None = None) -> int:
    """The body limit from the settings model: the process environment's (with its profile), or,
    for an explicit environment, that mapping's value validated by the same model field."""
    if environ is None:
        return load_settings().webhook_max_body_bytes
    raw = (environ.get(MAX_BODY_BYTES_ENV) or "").strip()
    if not raw:
        return DEFAULT_MAX_BODY_BYTES
    # The model's own field (type and bounds), without the process environment the model reads.
    info = RevopsSettings.model_fields[MAX_BODY_FIELD]
    return int(TypeAdapter(Annotated[(info.annotation, *info.metadata)]).validate_python(raw))


@dataclass(frozen=True)
class ReceiverSettings:
    """What the receiver needs: where to store, each source's signing secret, a size limit.

    A source without a secret is refused (503, nothing stored), never accepted unsigned.
    """

    database_url: str
    secrets: Mapping[str, str] = field(default_factory=dict, repr=False)
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    replay_window: timedelta = DEFAULT_REPLAY_WINDOW
    fast_path: FastPathSettings | None = None  # off unless the webserver's GraphQL URL is set
    hubspot_secret: str | None = field(default=None, repr=False)  # the app's client secret
    hubspot_url: str | None = None  # the public URL HubSpot signs (default: the request's)
    # Custom forms of forms.yaml: form key -> (its secret's variable, the secret or None).
    forms: Mapping[str, tuple[str, str | None]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        unknown = set(self.secrets) - set(SOURCES)
        if unknown:
            raise ValueError(f"secrets for unknown webhook sources: {sorted(unknown)}")
        if self.max_body_bytes <= 0:
            raise ValueError("max_body_bytes must be positive")

    def secret_for(self, source: str) -> str | None:
        secret = self.secrets.get(source)
        return secret if secret else None

    @property
    def mounted(self) -> list[str]:
        """Sources that have a secret and are accepted."""
        return [name for name in SOURCES if self.secret_for(name)]

    @property
    def refused(self) -> list[str]:
        """Known sources without a secret: refused with 503."""
        return [name for name in SOURCES if not self.secret_for(name)]

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str] | None = None,
        *,
        max_body_bytes: int | None = None,
        form_secret_envs: Mapping[str, str] | None = None,
    ) -> ReceiverSettings:
        """From the environment; `form_secret_envs` (form key -> variable) names forms.yaml's;
        `WeakSecretError` names a secret too short."""
        env = os.environ if environ is None else environ
        others = [HUBSPOT_SECRET_ENV, *(form_secret_envs or {}).values()]
        short = [v for v in others if 0 < len(env.get(v, "").strip()) < MIN_WEBHOOK_SECRET_CHARS]
        weak = weak_secrets(env) + short
        if weak:
            raise WeakSecretError(
                f"{', '.join(weak)}: a webhook secret must be at least "
                f"{MIN_WEBHOOK_SECRET_CHARS} characters (generate one with "
                "`openssl rand -hex 32` and set it at the sender too)"
            )
        secrets = {
            name: env.get(source.secret_env, "").strip()
            for name, source in SOURCES.items()
            if env.get(source.secret_env, "").strip()
        }
        limit = max_body_bytes or max_body_bytes_setting(environ)
        url = env.get(store_engine.DATABASE_URL_ENV, "").strip() or store_engine.database_url()
        window = (
            timedelta(seconds=load_settings().webhook_replay_window_seconds)
            if environ is None
            else DEFAULT_REPLAY_WINDOW
        )
        return cls(
            database_url=url,
            secrets=secrets,
            max_body_bytes=limit,
            replay_window=window,
            fast_path=fast_path_setting(environ),
            hubspot_secret=env.get(HUBSPOT_SECRET_ENV, "").strip() or None,
            hubspot_url=env.get(HUBSPOT_URL_ENV, "").strip() or None,
            forms={
                form: (var, env.get(var, "").strip() or None)
                for form, var in (form_secret_envs or {}).items()
            },
        )


def fast_path_setting(environ: Mapping[str, str] | None = None) -> FastPathSettings | None:
    """The fast path's settings when `REVOPS_DAGSTER_GRAPHQL_URL` is set, else None (off)."""
    if environ is None:
        settings = load_settings()
        url, location = settings.dagster_graphql_url, settings.dagster_location_name
    else:
        url = environ.get(GRAPHQL_URL_ENV)
        location = (environ.get(LOCATION_ENV) or "").strip() or "revops_pipelines"
    url = (url or "").strip()
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        raise ValueError(f"{GRAPHQL_URL_ENV} must be an http(s) URL, got {url[:80]!r}")
    return FastPathSettings(graphql_url=url, location_name=location)

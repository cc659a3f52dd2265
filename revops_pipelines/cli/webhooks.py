"""`revops webhooks`: run the receiver, and look after the inbox."""

from __future__ import annotations

from typing import Any

import click

from revops_pipelines.services import inbox
from revops_pipelines.store import engine as store_engine
from revops_pipelines.webhooks.settings import ReceiverSettings, WeakSecretError
from revops_pipelines.webhooks.sources import SOURCES


@click.group()
def webhooks() -> None:
    """The webhook receiver and its inbox (webhook_inbox)."""


@webhooks.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to bind.")
@click.option("--port", default=8787, show_default=True, type=int, help="Port to bind.")
@click.option(
    "--max-body-bytes",
    type=int,
    default=None,
    help="Reject larger bodies with 413 (default REVOPS_WEBHOOK_MAX_BODY_BYTES or 1 MiB).",
)
@click.option("--log-level", default="info", show_default=True)
@click.option(
    "--metrics-port",
    type=int,
    default=None,
    help="Serve GET /metrics on this port only (on --metrics-host), not on the public port.",
)
@click.option(
    "--metrics-host",
    default="127.0.0.1",
    show_default=True,
    help="Interface of --metrics-port: loopback unless the scraper is on another machine.",
)
def serve(
    host: str,
    port: int,
    max_body_bytes: int | None,
    log_level: str,
    metrics_port: int | None,
    metrics_host: str,
) -> None:
    """Serve POST /webhooks/{typeform,tally,attio,segment,hubspot}, /webhooks/forms/{form} (the
    custom forms of forms.yaml), GET /healthz and GET /metrics.

    Logs are JSON lines or human lines as the environment's `log_format` says (REVOPS_ENV's
    profile, or REVOPS_LOG_FORMAT), with secrets masked. With --metrics-port, /metrics is served
    there alone (loopback by default) and the public port answers 404 for it."""
    import asyncio

    import uvicorn

    from revops_pipelines.config import ConfigError, config_path, load_model
    from revops_pipelines.domain.custom_forms import FormsConfig
    from revops_pipelines.infra.settings import SettingsError, load_settings
    from revops_pipelines.webhooks.app import create_app, metrics_app
    from revops_pipelines.webhooks.logs import configure_logging

    try:
        forms = load_model(config_path("forms.yaml"), FormsConfig)
        settings = ReceiverSettings.from_env(
            max_body_bytes=max_body_bytes, form_secret_envs=forms.secret_envs()
        )
    except (ConfigError, WeakSecretError) as exc:
        raise click.ClickException(str(exc)) from None
    custom = any(secret for _, secret in settings.forms.values())
    if not (settings.mounted or settings.hubspot_secret or custom):
        names = ", ".join(s.secret_env for s in SOURCES.values())
        raise click.ClickException(f"no webhook secret is set ({names}): nothing to receive")
    try:
        log_format = load_settings().log_format
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None
    configure_logging(log_format, log_level)
    # migrates the store and logs refused sources
    app = create_app(settings, serve_metrics=metrics_port is None)
    options: dict[str, Any] = {
        "log_config": None,
        "log_level": log_level,
        "access_log": False,
        "server_header": False,
    }
    if metrics_port is None:
        uvicorn.run(app, host=host, port=port, **options)
        return
    main = uvicorn.Server(uvicorn.Config(app, host=host, port=port, **options))
    scrape = uvicorn.Server(
        uvicorn.Config(
            metrics_app(app.state.metrics), host=metrics_host, port=metrics_port, **options
        )
    )
    asyncio.run(_serve_both(main, scrape))


async def _serve_both(main: Any, scrape: Any) -> None:
    """Both servers in one event loop; the metrics one stops when the receiver stops (a signal
    reaches the server that installed its handlers last: the receiver)."""
    import asyncio

    scrape_task = asyncio.create_task(scrape.serve())
    await asyncio.sleep(0)  # let it install its signal handlers first
    try:
        await main.serve()
    finally:
        scrape.should_exit = True
        await scrape_task


@webhooks.command()
def status() -> None:
    """Inbox rows per source and status."""
    engine = store_engine.get_engine()
    for name in SOURCES:
        counts = inbox.status_counts(engine, name)
        click.echo(f"{name:9} " + "  ".join(f"{k}={v}" for k, v in counts.items()))


@webhooks.command()
@click.argument("ids", nargs=-1, type=int, required=True)
def requeue(ids: tuple[int, ...]) -> None:
    """Put failed or quarantined inbox rows back to pending with a fresh attempt budget."""
    changed = inbox.requeue(store_engine.get_engine(), ids)
    click.echo(f"requeued {changed} of {len(ids)} rows")


@webhooks.command()
@click.option(
    "--older-than",
    "older_than",
    default="30d",
    show_default=True,
    help="Age of settled rows to empty: a number and h, d or w.",
)
def purge(older_than: str) -> None:
    """Drop the bodies and headers of inbox rows settled (done or quarantined) before the age.

    The rows stay with their (source, event_id), so a redelivery is still a duplicate; failed
    rows are kept whole for an operator."""
    try:
        age = inbox.parse_age(older_than)
        result = inbox.purge(store_engine.get_engine(), age)
    except ValueError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"emptied {result.rows} settled rows older than {older_than}")
    click.echo(f"removed {result.digests} replay digests")

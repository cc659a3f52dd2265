"""A receiver served on a real loopback socket, over the `db_url` store (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pytest
import sqlalchemy as sa

from revops_pipelines.store import engine as store_engine
from revops_pipelines.webhooks.app import create_app
from revops_pipelines.webhooks.settings import ReceiverSettings
from revops_sandbox.server import serve_in_thread
from tests.webhooks.helpers import SECRETS

TEST_BODY_LIMIT = 64 * 1024


@dataclass
class Receiver:
    url: str
    client: httpx.Client
    engine: sa.Engine


@contextmanager
def serve_receiver(db_url: str, secrets: Mapping[str, str]) -> Iterator[Receiver]:
    """The receiver with `secrets`, served until the block exits."""
    settings = ReceiverSettings(db_url, secrets=dict(secrets), max_body_bytes=TEST_BODY_LIMIT)
    with (
        serve_in_thread(create_app(settings)) as server,
        httpx.Client(base_url=server.url, timeout=10) as client,
    ):
        yield Receiver(server.url, client, store_engine.get_engine(db_url))


@pytest.fixture
def receiver(db_url: str) -> Iterator[Receiver]:
    with serve_receiver(db_url, SECRETS) as served:
        yield served

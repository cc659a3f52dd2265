"""Webhook signatures against fixed vectors (fixtures/signature_vectors.json): a raw body, a secret
and the expected header per source, computed with openssl from each vendor's documented algorithm.
The receiver's signer, the tests' own signer and the receiver over real HTTP must all agree with
them, and the receiver must refuse the vector once any single byte of body or header changes."""

from __future__ import annotations

import hashlib
import string

import httpx
import pytest

from revops_pipelines.store import inbox
from revops_pipelines.webhooks.sources import SIGNATURE_HEADER, SOURCES
from tests.webhooks.conftest import Receiver, serve_receiver
from tests.webhooks.helpers import HEADERS, Vector, inbox_count, sign, vectors

VECTORS = {v.source: v for v in vectors()}
SECRETS = {v.source: v.secret for v in VECTORS.values()}


def _flip(data: bytes, index: int) -> bytes:
    return data[:index] + bytes([data[index] ^ 0x01]) + data[index + 1 :]


def _body_changes(body: bytes) -> dict[str, bytes]:
    """Single-byte changes: at both ends, and in a continuation byte of the first multi-byte
    UTF-8 character (é becomes è, still valid UTF-8), where a signer that decodes
    and re-encodes text would slip."""
    continuation = next(i for i, b in enumerate(body) if b >= 0x80) + 1
    changes = {
        "first byte": _flip(body, 0),
        "last byte": _flip(body, len(body) - 1),
        "inside the first non-ASCII character": _flip(body, continuation),
    }
    assert all(len(c) == len(body) and c != body for c in changes.values())
    return changes


def _other(char: str) -> str:
    # Differs even ignoring case: hex signatures are compared case-insensitively.
    return "1" if char.lower() != "1" else "2"


def _header_changes(header: str) -> dict[str, str]:
    """Single-character changes of the header value: at both ends and in the middle, and for a
    base64 signature (case-sensitive, unlike hex) the case of one letter."""
    changes = {
        f"char {i}": header[:i] + _other(header[i]) + header[i + 1 :]
        for i in (0, len(header) // 2, len(header) - 1)
    }
    start = len("sha256=") if header.startswith("sha256=") else 0
    if not all(c in string.hexdigits for c in header[start:]):
        i = next(i for i in range(start, len(header)) if header[i].isalpha())
        changes[f"case of char {i}"] = header[:i] + header[i].swapcase() + header[i + 1 :]
    assert all(len(c) == len(header) and c != header for c in changes.values())
    return changes


def test_every_receiver_source_has_a_vector() -> None:
    assert set(VECTORS) == set(SOURCES)


@pytest.mark.parametrize("source", sorted(VECTORS))
def test_vector_body_is_the_pinned_bytes(source: str) -> None:
    vector = VECTORS[source]
    assert len(vector.body) == vector.body_bytes
    assert hashlib.sha256(vector.body).hexdigest() == vector.body_sha256
    assert not vector.body.endswith((b"\n", b"\r"))
    assert any(b >= 0x80 for b in vector.body)  # non-ASCII text is part of every vector


@pytest.mark.parametrize("source", sorted(VECTORS))
def test_vector_header_names_are_the_ones_the_receiver_reads(source: str) -> None:
    vector = VECTORS[source]
    assert SIGNATURE_HEADER[source] == vector.header.lower() == HEADERS[source]
    if vector.legacy_header:
        assert vector.legacy_header.lower() in SOURCES[source].signature_headers


@pytest.mark.parametrize("source", sorted(VECTORS))
def test_receiver_signer_gives_exactly_the_vector(source: str) -> None:
    vector = VECTORS[source]
    assert SOURCES[source].sign(vector.secret, vector.body) == vector.expected_header


@pytest.mark.parametrize("source", sorted(VECTORS))
def test_test_side_signer_gives_exactly_the_vector(source: str) -> None:
    vector = VECTORS[source]
    assert sign(source, vector.secret, vector.body) == vector.expected_header


def _post(
    receiver: Receiver, vector: Vector, body: bytes, headers: dict[str, str]
) -> httpx.Response:
    return receiver.client.post(
        f"/webhooks/{vector.source}",
        content=body,
        headers={"content-type": "application/json", **headers},
    )


@pytest.mark.parametrize("source", sorted(VECTORS))
def test_receiver_accepts_the_vector_over_http(db_url: str, source: str) -> None:
    vector = VECTORS[source]
    headers = {vector.header: vector.expected_header}
    with serve_receiver(db_url, SECRETS) as receiver:
        response = _post(receiver, vector, vector.body, headers)
        assert response.status_code == 202, response.text
        [row] = inbox.get_rows(receiver.engine, [response.json()["id"]])
    assert row.body == vector.body
    assert row.headers[vector.header.lower()] == vector.expected_header


def test_receiver_accepts_the_attio_vector_in_the_legacy_header(db_url: str) -> None:
    vector = VECTORS["attio"]
    assert vector.legacy_header
    with serve_receiver(db_url, SECRETS) as receiver:
        response = _post(
            receiver, vector, vector.body, {vector.legacy_header: vector.expected_header}
        )
        assert response.status_code == 202, response.text


@pytest.mark.parametrize("source", sorted(VECTORS))
def test_receiver_refuses_the_vector_with_one_byte_changed(db_url: str, source: str) -> None:
    vector = VECTORS[source]
    good = {vector.header: vector.expected_header}
    cases = [(f"body {name}", body, good) for name, body in _body_changes(vector.body).items()]
    cases += [
        (f"header {name}", vector.body, {vector.header: header})
        for name, header in _header_changes(vector.expected_header).items()
    ]
    with serve_receiver(db_url, SECRETS) as receiver:
        for name, body, headers in cases:
            response = _post(receiver, vector, body, headers)
            assert (response.status_code, response.json()) == (
                401,
                {"error": "invalid_signature"},
            ), name
        assert inbox_count(receiver.engine) == 0

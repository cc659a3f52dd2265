"""Property: whatever bytes and headers arrive, the receiver never answers 5xx, and it writes a row
only when it answers 202 to a correctly signed JSON object."""

from __future__ import annotations

import json
import urllib.parse

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from revops_pipelines.webhooks.sources import SIGNATURE_HEADER, SOURCES
from tests.webhooks.conftest import TEST_BODY_LIMIT, Receiver
from tests.webhooks.helpers import SECRETS, example, inbox_count
from tests.webhooks.helpers import sign as sign_like_sender

KNOWN = sorted(SOURCES)
RESERVED = {"content-length", "transfer-encoding", "host", "connection", "expect"}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
bodies = st.one_of(
    st.binary(max_size=512),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.dictionaries(
        st.sampled_from(["event_id", "eventId", "messageId", "events", "x"]),
        json_values,
        max_size=4,
    ).map(lambda v: json.dumps(v).encode()),
    st.sampled_from(KNOWN).map(example),
    st.integers(min_value=TEST_BODY_LIMIT - 2, max_value=TEST_BODY_LIMIT + 2).map(
        lambda n: b"{" * n
    ),
    st.integers(min_value=1_000, max_value=50_000).map(lambda n: b"[" * n + b"]" * n),
)
header_names = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=20
).filter(lambda n: n not in RESERVED)
header_values = st.binary(max_size=60).map(
    lambda b: bytes(c for c in b if c >= 0x21 and c != 0x7F) or b"x"
)
extra_headers = st.dictionaries(
    st.one_of(header_names, st.sampled_from([*SIGNATURE_HEADER.values(), "idempotency-key"])),
    header_values,
    max_size=5,
)
sources = st.one_of(st.sampled_from(KNOWN), st.text(max_size=12))
signing = st.sampled_from(["none", "valid", "garbage"])


def test_arbitrary_deliveries_never_get_a_5xx(receiver: Receiver) -> None:
    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(source=sources, body=bodies, headers=extra_headers, sign=signing)
    def check(source: str, body: bytes, headers: dict[str, bytes], sign: str) -> None:
        sent: dict[str, bytes] = dict(headers)
        if source in SOURCES and sign != "none":
            secret = SECRETS[source] if sign == "valid" else "garbage"
            sent[SIGNATURE_HEADER[source]] = sign_like_sender(source, secret, body).encode()
        before = inbox_count(receiver.engine)
        path = "/webhooks/" + urllib.parse.quote(source, safe="")
        response = receiver.client.post(path, content=body, headers=sent)
        assert response.status_code < 500, (response.status_code, response.text)
        assert response.status_code in {200, 202, 400, 401, 404, 405, 413}
        written = inbox_count(receiver.engine) - before
        assert written == (1 if response.status_code == 202 else 0)
        if response.status_code in (200, 202):
            assert source in SOURCES
            assert isinstance(json.loads(body), dict)

    check()

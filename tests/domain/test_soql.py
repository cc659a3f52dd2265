"""SOQL text building: datetime literals, windows, escaping (pure; no network)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from revops_pipelines.domain.soql import (
    ceil_to_second,
    count_query,
    format_salesforce_datetime,
    parse_salesforce_datetime,
    select_query,
    soql_datetime,
    soql_identifier,
    soql_string,
    window_clause,
    window_query,
)
from revops_sandbox.salesforce.schema import SOBJECTS
from revops_sandbox.salesforce.soql import compile_query

CET = timezone(timedelta(hours=1))


def test_datetime_literal_is_utc_with_z_and_unquoted() -> None:
    assert soql_datetime(datetime(2026, 11, 20, tzinfo=UTC)) == "2026-11-20T00:00:00Z"
    assert soql_datetime(datetime(2026, 11, 20, 1, 0, tzinfo=CET)) == "2026-11-20T00:00:00Z"
    assert soql_datetime(datetime(2026, 1, 1, 0, 30, tzinfo=CET)) == "2025-12-31T23:30:00Z"


def test_fractional_seconds_round_up_to_the_next_second() -> None:
    assert soql_datetime(datetime(2026, 11, 20, 8, 0, 0, 1, tzinfo=UTC)) == "2026-11-20T08:00:01Z"
    assert soql_datetime(datetime(2026, 12, 31, 23, 59, 59, 999_999, tzinfo=UTC)) == (
        "2027-01-01T00:00:00Z"
    )
    assert ceil_to_second(datetime(2026, 11, 20, 8, tzinfo=UTC)) == datetime(
        2026, 11, 20, 8, tzinfo=UTC
    )


def test_naive_datetimes_are_refused_with_the_value() -> None:
    with pytest.raises(ValueError, match=r"2026-11-20T00:00:00 has no time zone"):
        soql_datetime(datetime(2026, 11, 20))
    with pytest.raises(TypeError, match="must be a datetime"):
        soql_datetime("2026-11-20")  # type: ignore[arg-type]


def test_salesforce_response_datetimes_round_trip() -> None:
    value = datetime(2026, 11, 20, 8, 0, 0, 123_000, tzinfo=UTC)
    assert format_salesforce_datetime(value) == "2026-11-20T08:00:00.123+0000"
    assert parse_salesforce_datetime("2026-11-20T08:00:00.123+0000") == value
    assert parse_salesforce_datetime("2026-11-20T08:00:00.000Z") == value.replace(microsecond=0)
    assert parse_salesforce_datetime("2026-11-20T09:00:00+01:00") == value.replace(microsecond=0)
    assert format_salesforce_datetime(datetime(2026, 11, 20, 9, tzinfo=CET)) == (
        "2026-11-20T08:00:00.000+0000"
    )
    with pytest.raises(ValueError, match="not a Salesforce datetime: '2026-11-20'"):
        parse_salesforce_datetime("2026-11-20")


def test_window_clause_is_half_open_on_the_field() -> None:
    start = datetime(2026, 11, 17, tzinfo=UTC)
    assert window_clause("SystemModstamp", start, start + timedelta(days=1)) == (
        "SystemModstamp >= 2026-11-17T00:00:00Z AND SystemModstamp < 2026-11-18T00:00:00Z"
    )


def test_empty_or_inverted_windows_are_refused() -> None:
    start = datetime(2026, 11, 17, tzinfo=UTC)
    with pytest.raises(ValueError, match="empty window on SystemModstamp"):
        window_clause("SystemModstamp", start, start)
    # Within one second, both bounds round up to the same literal: that window holds nothing.
    with pytest.raises(ValueError, match="empty window"):
        window_clause(
            "SystemModstamp", start + timedelta(microseconds=1), start + timedelta(milliseconds=500)
        )


def test_window_query_selects_id_and_cursor_orders_stably_and_dedupes() -> None:
    start = datetime(2026, 11, 17, tzinfo=UTC)
    query = window_query("Account", ["Name", "Id", "name", "Website"], start, start + timedelta(1))
    assert query == (
        "SELECT Id, Name, Website, SystemModstamp FROM Account WHERE SystemModstamp >= "
        "2026-11-17T00:00:00Z AND SystemModstamp < 2026-11-18T00:00:00Z "
        "ORDER BY SystemModstamp, Id"
    )


def test_select_and_count_queries() -> None:
    assert select_query("Account", ["Id"], order_by=["Name desc"], limit=5) == (
        "SELECT Id FROM Account ORDER BY Name DESC LIMIT 5"
    )
    assert count_query("Account") == "SELECT count() FROM Account"
    assert count_query("Account", where="IsDeleted = true") == (
        "SELECT count() FROM Account WHERE IsDeleted = true"
    )
    with pytest.raises(ValueError, match="ASC or DESC"):
        select_query("Account", ["Id"], order_by=["Name sideways"])
    with pytest.raises(ValueError, match="at least one field"):
        select_query("Account", [])


def test_identifiers_refuse_anything_that_could_inject() -> None:
    assert soql_identifier("Custom_Field__c") == "Custom_Field__c"
    assert soql_identifier("Owner.Name") == "Owner.Name"
    for bad in ("Name, (SELECT", "1Name", "Name--", "", "Name OR Id"):
        with pytest.raises(ValueError, match="not a valid SOQL field"):
            soql_identifier(bad)


def test_string_literals_escape_quotes_backslashes_and_newlines() -> None:
    assert soql_string("O'Brien") == r"'O\'Brien'"
    assert soql_string('a\\b"c\nd') == r"'a\\b\"c\nd'"
    assert soql_string("Müller") == "'Müller'"


def _row(stamp: datetime) -> dict[str, object]:
    return {"Id": "001Dn0000000001IAA", "SystemModstamp": stamp}


_instants = st.datetimes(
    min_value=datetime(2025, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=300, deadline=None)
@given(
    start=_instants,
    length=st.timedeltas(timedelta(microseconds=1), timedelta(days=2)),
    offset=st.integers(-3, 3),
    at_end=st.booleans(),
)
def test_window_selects_exactly_the_half_open_interval(
    start: datetime, length: timedelta, offset: int, at_end: bool
) -> None:
    """Evaluated by the sandbox's SOQL, the window holds a (whole-second) stamp x exactly when
    start <= x < end, whatever fractions the bounds carry. x is drawn near either bound."""
    end = start + length
    anchor = end if at_end else start
    x = anchor.replace(microsecond=0) + timedelta(seconds=offset)
    if ceil_to_second(start) >= ceil_to_second(end):
        with pytest.raises(ValueError, match="empty window"):
            window_clause("SystemModstamp", start, end)
        assert not any(start <= x + timedelta(seconds=k) < end for k in range(-2, 3))
        return
    query = compile_query(
        f"SELECT Id FROM Account WHERE {window_clause('SystemModstamp', start, end)}", SOBJECTS
    )
    assert query.predicate(_row(x)) == (start <= x < end)

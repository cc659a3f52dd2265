"""Map a frame of Salesforce accounts to Attio company values, column by column.

Every transform works on whole columns (pandas string and numeric operations); the few values
that need a per-value library call (IDN domains, country names) are looked up once per distinct
value. A row that breaks a rule is kept with a `reject_reason`, never dropped.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import idna
import pycountry

from revops_pipelines.domain.field_mapping import FieldMapping, FieldRule

# pandas is imported inside the functions that run it: loading the definitions must not load it.
if TYPE_CHECKING:
    import pandas as pd

SOURCE_ID, MODIFIED_AT, IS_DELETED, REJECT_REASON, ROW_HASH = (
    "source_id",
    "modified_at",
    "is_deleted",
    "reject_reason",
    "row_hash",
)
# No look-arounds, so Arrow's regex engine (RE2) runs it instead of a Python fallback.
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
DOMAIN_PATTERN = rf"(?:{_LABEL}\.)+(?:[a-z]{{2,63}}|xn--[a-z0-9-]{{1,59}})"
LOCATION_KEYS = (
    "line_1",
    "line_2",
    "line_3",
    "line_4",
    "locality",
    "region",
    "postcode",
    "country_code",
    "latitude",
    "longitude",
)


# Arrow-backed strings run the .str methods below as compiled kernels, not per-value Python.
TEXT = "string[pyarrow]"


def _blank_to_na(series: pd.Series) -> pd.Series:
    text = series.astype(TEXT).str.strip()
    return text.mask(text == "")


@functools.cache
def _to_ascii(host: str) -> str | None:
    try:
        return idna.encode(host, uts46=True).decode("ascii")
    except idna.IDNAError:
        return None


def normalize_domains(series: pd.Series) -> pd.Series:
    """Website -> bare lowercase host: scheme, credentials, port, path, `www.` stripped; IDN
    hosts in their ASCII (punycode) form; anything that is not a valid host becomes NA."""
    host = _blank_to_na(series).str.lower()
    host = host.str.replace(r"[\s,;].*$", "", regex=True)  # "a.com, b.com": the first
    host = host.str.replace(r"^(?:[a-z][a-z0-9+.\-]*:)?//", "", regex=True)
    host = host.str.replace(r"[/?#\\].*$", "", regex=True)
    host = host.str.replace(r"^[^@]*@", "", regex=True).str.replace(r":\d*$", "", regex=True)
    host = host.str.strip(".").str.replace(r"^www\d{0,3}\.", "", regex=True)
    non_ascii = host.str.contains(r"[^\x00-\x7f]", regex=True).fillna(False).astype(bool)
    if non_ascii.any():
        host = host.astype(object)
        host[non_ascii] = host[non_ascii].map(_to_ascii)
        host = host.astype(TEXT)
    valid = host.str.fullmatch(DOMAIN_PATTERN).fillna(False).astype(bool)
    return host.where(valid)


def _country_code(value: str, aliases: dict[str, str]) -> str | None:
    key = value.strip().casefold()
    if key in aliases:
        return aliases[key]
    try:
        return pycountry.countries.lookup(value.strip()).alpha_2
    except LookupError:
        return None


def _apply_rule(series: pd.Series, rule: FieldRule, mapping: FieldMapping) -> pd.Series:
    import pandas as pd

    if rule.transform == "text":
        return _blank_to_na(series)
    if rule.transform == "domain":
        return normalize_domains(series)
    if rule.transform == "select":
        text = _blank_to_na(series)
        folded = {key.strip().lower(): title for key, title in rule.options.items()}
        titles = text.str.lower().map(folded).astype(TEXT)
        if rule.default is not None:
            titles = titles.mask(titles.isna() & text.notna(), rule.default)
        return titles
    if rule.transform == "country":
        text = _blank_to_na(series)
        distinct = text.dropna().unique()
        codes = {v: _country_code(v, mapping.country_aliases) for v in distinct}
        return text.map(codes).astype(TEXT)
    numbers = pd.to_numeric(series, errors="coerce")
    if rule.transform == "integer":
        whole = numbers.where((numbers >= 0) & (numbers % 1 == 0))
        return whole.astype("Int64")
    if rule.transform == "currency":
        return numbers.where(numbers >= 0).round(4).astype("Float64")
    return numbers.astype("Float64")


def map_accounts(accounts: pd.DataFrame, mapping: FieldMapping) -> pd.DataFrame:
    """One output row per account: ids, the mapped attributes, a row hash and a reject reason."""
    import pandas as pd

    missing = [f for f in mapping.source_fields if f not in accounts.columns]
    if missing:
        raise KeyError(f"the accounts frame lacks the mapped Salesforce fields {missing}")
    out = pd.DataFrame(index=accounts.index)
    out[SOURCE_ID] = accounts[mapping.id_field].astype(TEXT)
    out[MODIFIED_AT] = pd.to_datetime(accounts[mapping.modified_field], utc=True, format="ISO8601")
    out[IS_DELETED] = accounts[mapping.deleted_field].fillna(False).astype(bool)
    reason = pd.Series(pd.NA, index=accounts.index, dtype=TEXT)
    for rule in mapping.fields:
        raw = accounts[rule.source]
        mapped = _apply_rule(raw, rule, mapping)
        out[rule.target] = mapped
        present = _blank_to_na(raw).notna()
        if rule.required:
            reason = reason.fillna(
                pd.Series(f"{rule.source} is required", index=raw.index, dtype=TEXT).where(
                    mapped.isna()
                )
            )
        if rule.reject_invalid:
            invalid = present & mapped.isna()
            reason = reason.fillna(
                raw.astype(TEXT)
                .map(lambda v, r=rule: f"{r.source} {v!r} is not a valid {r.transform}")
                .where(invalid)
                .astype(TEXT)
            )
    out[REJECT_REASON] = reason
    out[ROW_HASH] = (
        pd.util.hash_pandas_object(out[mapping.targets], index=False)
        .map("{:016x}".format)
        .astype(TEXT)
    )
    return out


def _location(country_code: str) -> dict[str, Any]:
    return {key: (country_code if key == "country_code" else None) for key in LOCATION_KEYS}


def attio_values(
    row: dict[str, Any], mapping: FieldMapping, *, clear_missing: bool = False
) -> dict[str, Any]:
    """The Attio `values` body for one mapped row. Missing values are left out, or sent as `[]`
    with `clear_missing` (how Attio clears a value is UNCONFIRMED; `[]` is the empty value list
    every read shape uses, and the sandbox treats it as a clear)."""
    import pandas as pd

    values: dict[str, Any] = {}
    for rule in mapping.fields:
        value = row.get(rule.target)
        if value is None or value is pd.NA or (isinstance(value, float) and pd.isna(value)):
            if clear_missing and rule.target != "domains":
                values[rule.target] = []
            continue
        if rule.transform == "domain":
            values[rule.target] = [value]
        elif rule.transform == "country":
            values[rule.target] = _location(str(value))
        elif rule.transform in ("integer",):
            values[rule.target] = int(value)
        elif rule.transform in ("number", "currency"):
            values[rule.target] = float(value)
        else:
            values[rule.target] = str(value)
    return values

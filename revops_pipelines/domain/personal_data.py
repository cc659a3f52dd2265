"""Personal data (lead email addresses and phone numbers) masked for run logs, metadata, inbox
errors and alerts: `m•••@northwind.io`, `+44•••••••89`.

The raw values stay where they are needed (the inbox payload, Attio, the new-lead post to the
rep); everything a Dagster UI reader or a log shipper sees goes through `mask_personal`, which
finds addresses and international numbers inside free text (an API's error message, an invalid
email quoted by a validator) as well as in a field of their own.
"""

from __future__ import annotations

import re

BULLETS = "•••"

# A local part, "@", a domain. Lenient on purpose: an invalid address (two dots, a trailing
# dash) is still somebody's address. The bullet is not in the local-part class, so masking twice
# changes nothing; the look-behind keeps a JSON escape (`\u2022`) from passing for a local part.
# ("=", "?", "&", "/" and "*" are valid in a local part but left out: they delimit URL queries,
# and "*" is the secret mask before the "@" of a database URL.)
_LOCAL = r"[\w.!#$%+^~-]"
# A doubled "@" (a typo) and the percent-encoded "%40" of a URL's query are addresses too.
_EMAIL = re.compile(rf"(?<![\\\w.!#$%+^~-]){_LOCAL}+?(?:@|%40)+[\w-]+(?:\.[\w-]+)*")
# International numbers as forms and E.164 write them: "+", then digits with spaces, dots,
# dashes or brackets. Only with the "+": plain digit runs are ids, dates and amounts.
_PHONE = re.compile(r"\+\d[\d ().\-]{5,}\d")


def mask_email(value: str) -> str:
    """`maria@northwind.io` -> `m•••@northwind.io`; text without an `@` keeps one character."""
    text = value.strip().replace("%40", "@")
    local, at, domain = text.rpartition("@")
    if not at:
        return f"{text[:1]}{BULLETS}" if text else text
    return f"{local[:1]}{BULLETS}@{domain}"


def mask_phone(value: str) -> str:
    """`+442079460958` -> `+44•••••••58`: the country code and the last two digits."""
    digits = re.sub(r"\D", "", value)
    if len(digits) <= 4:
        return BULLETS
    return f"+{digits[:2]}{'•' * (len(digits) - 4)}{digits[-2:]}"


def mask_personal(text: str) -> str:
    """Every email address and international phone number inside `text`, masked."""
    if "@" in text or "%40" in text:
        text = _EMAIL.sub(lambda m: mask_email(m.group(0)), text)
    if "+" in text:
        text = _PHONE.sub(lambda m: mask_phone(m.group(0)), text)
    return text

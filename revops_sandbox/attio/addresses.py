"""Email addresses, domains, phone numbers and timestamps as Attio parses and derives them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

from revops_sandbox.attio.errors import format_dt

# Two-label public suffixes that come up in B2B data; a full public-suffix list would be a new
# dependency, and a root domain only has to be right for the suffixes a test can produce.
MULTI_LABEL_SUFFIXES = frozenset(
    {
        "co.uk", "org.uk", "ac.uk", "gov.uk", "ltd.uk", "plc.uk", "me.uk",
        "com.au", "net.au", "org.au", "edu.au", "gov.au",
        "co.nz", "org.nz", "co.jp", "ne.jp", "or.jp", "co.in", "net.in", "org.in",
        "com.br", "com.mx", "com.ar", "com.cn", "com.hk", "com.sg", "com.tr", "com.tw",
        "co.za", "co.kr", "co.il", "com.my", "com.ph", "com.co", "com.pe",
    }
)  # fmt: skip
FREE_MAIL_DOMAINS = frozenset(
    {
        "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.uk", "ymail.com", "hotmail.com",
        "hotmail.co.uk", "outlook.com", "live.com", "msn.com", "aol.com", "icloud.com",
        "me.com", "mac.com", "proton.me", "protonmail.com", "pm.me", "gmx.com", "gmx.de",
        "gmx.net", "web.de", "mail.com", "yandex.com", "yandex.ru", "zoho.com",
        "fastmail.com", "hey.com", "qq.com", "163.com", "126.com", "mail.ru", "tutanota.com",
    }
)  # fmt: skip
_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_TLD = re.compile(r"^(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
# Longest prefix wins; enough calling codes for the countries the synthetic data uses.
CALLING_CODES = {
    "1": "US", "44": "GB", "49": "DE", "33": "FR", "34": "ES", "39": "IT", "31": "NL",
    "32": "BE", "41": "CH", "43": "AT", "45": "DK", "46": "SE", "47": "NO", "48": "PL",
    "351": "PT", "353": "IE", "358": "FI", "61": "AU", "64": "NZ", "81": "JP", "82": "KR",
    "86": "CN", "91": "IN", "65": "SG", "852": "HK", "55": "BR", "52": "MX", "27": "ZA",
    "972": "IL", "971": "AE",
}  # fmt: skip
COUNTRY_CALLING = {country: code for code, country in CALLING_CODES.items()}


def valid_hostname(host: str) -> bool:
    labels = host.split(".")
    if len(host) > 253 or len(labels) < 2:
        return False
    return all(_LABEL.match(label) for label in labels) and bool(_TLD.match(labels[-1]))


def root_domain(host: str) -> str:
    labels = host.split(".")
    if len(labels) >= 3 and ".".join(labels[-2:]) in MULTI_LABEL_SUFFIXES:
        return ".".join(labels[-3:])
    return ".".join(labels[-2:])


def parse_domain(raw: str) -> str | None:
    """Attio keeps only the host of what it is given: scheme, path, query and port go."""
    s = raw.strip().lower()
    s = _SCHEME.sub("", s)
    s = re.split(r"[/?#]", s, maxsplit=1)[0]
    s = s.rsplit("@", 1)[-1].split(":", 1)[0].rstrip(".")
    return s if valid_hostname(s) else None


def parse_email(raw: str) -> dict[str, str] | None:
    """The derived fields of an email value, or None when Attio would reject it.

    Strict by design: surrounding whitespace, quoted local parts and IP-literal hosts are all
    refused rather than repaired, so a client cannot rely on the server cleaning its input.
    """
    if len(raw) > 254 or raw.count("@") != 1:
        return None
    local, host = raw.split("@")
    if not local or len(local) > 64 or not _LOCAL.match(local):
        return None
    host = host.lower()
    if not valid_hostname(host):
        return None
    return {
        "original_email_address": raw,
        "email_address": raw.lower(),
        "email_domain": host,
        "email_root_domain": root_domain(host),
        "email_local_specifier": local.lower(),
    }


def parse_phone(raw: str, country_code: str | None) -> dict[str, str] | None:
    digits = re.sub(r"[\s().-]", "", raw)
    if digits.startswith("00"):
        digits = "+" + digits[2:]
    if digits.startswith("+"):
        number = digits[1:]
        if not number.isdigit():
            return None
        prefix = next((number[:n] for n in (3, 2, 1) if number[:n] in CALLING_CODES), None)
        country = country_code or (CALLING_CODES[prefix] if prefix else None)
    else:
        if not digits.isdigit() or not country_code or country_code not in COUNTRY_CALLING:
            return None
        number = COUNTRY_CALLING[country_code] + digits.lstrip("0")
        country = country_code
    if country is None or not 8 <= len(number) <= 15:
        return None
    return {"original_phone_number": raw, "country_code": country, "phone_number": f"+{number}"}


_TS = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<mo>\d{2})(?:-(?P<d>\d{2})"
    r"(?:[T ](?P<h>\d{2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:\.(?P<f>\d{1,9}))?)?)?)?)?"
    r"(?P<tz>Z|[+-]\d{2}:?\d{2})?$"
)


def parse_timestamp(raw: str) -> tuple[datetime, int] | None:
    """`"2023"` … `"2023-01-02T13:00:00.123456789+02:00"` → (UTC datetime, nanoseconds)."""
    m = _TS.match(raw.strip())
    if not m:
        return None
    g = m.groupdict()
    tz = UTC
    if g["tz"] and g["tz"] != "Z":
        sign = 1 if g["tz"][0] == "+" else -1
        hh, mm = int(g["tz"][1:3]), int(g["tz"][-2:])
        tz = timezone(sign * timedelta(hours=hh, minutes=mm))
    try:
        dt = datetime(
            int(g["y"]),
            int(g["mo"] or 1),
            int(g["d"] or 1),
            int(g["h"] or 0),
            int(g["mi"] or 0),
            int(g["s"] or 0),
            tzinfo=tz,
        )
    except ValueError:
        return None
    nanos = int((g["f"] or "0").ljust(9, "0"))
    return dt.astimezone(UTC), nanos


def normalize_timestamp(raw: str) -> str | None:
    parsed = parse_timestamp(raw)
    return format_dt(*parsed) if parsed else None


def normalize_date(raw: str) -> str | None:
    parsed = parse_timestamp(raw)
    return parsed[0].strftime("%Y-%m-%d") if parsed else None

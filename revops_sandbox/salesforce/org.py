"""A deterministic synthetic Salesforce org: Account rows as a real org accumulates them.

Same (count, seed, now, days) -> the same rows. Timestamps are whole seconds in UTC, spread over
the `days` before `now`, with the awkward cases a sync must survive: messy and missing websites,
domains shared by several accounts, soft deletions, non-ASCII names, junk picklist values, and
several accounts stamped at exactly the same instant at a day boundary (and in mid-day).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from revops_sandbox.salesforce.schema import ACCOUNT_TYPES, INDUSTRIES

_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SUFFIX_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"


def salesforce_id(prefix: str, number: int, pod: str = "Dn0") -> str:
    """An 18-character Salesforce id: key prefix, pod, base-62 number, case-safe suffix."""
    digits = ""
    while True:
        number, rem = divmod(number, 62)
        digits = _BASE62[rem] + digits
        if number == 0:
            break
    short = (prefix + pod + digits.rjust(9, "0"))[:15]
    suffix = ""
    for chunk in range(3):
        bits = sum(1 << i for i, ch in enumerate(short[chunk * 5 : chunk * 5 + 5]) if ch.isupper())
        suffix += _SUFFIX_CHARS[bits]
    return short + suffix


USER_IDS = tuple(salesforce_id("005", n) for n in range(1, 9))


def _words(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _pipes(text: str) -> tuple[str, ...]:
    return tuple(text.split("|"))


_PREFIXES = _words(
    "Acme Blue Nordic Apex Quantum Silver Harbor Summit Pioneer Evergreen Northwind Granite Cobalt"
    " Lumen Vertex Atlas Orbit Crimson Cedar Falcon Helix Ironwood Juniper Keystone Maple Nimbus"
    " Onyx Prairie Redwood Sterling Tidal Union Vantage Willow Zenith Aurora"
)
_MIDDLES = _words(
    "North Bay Peak Stone River Point Bridge Field Gate Hill Lake Park Ridge Rock Shore Star"
    " Valley Wood Bright Clear Deep First Grand High Key Light Main New Open Pure Smart True West"
    " East"
)
_NOUNS = _words(
    "Dynamics Logistics Analytics Systems Foods Health Robotics Energy Labs Capital Media Software"
    " Freight Materials Networks Pharma Consulting Retail Textiles Motors Insurance Bank Studios"
    " Water"
)


# country -> (weight, company suffixes, web tld, spellings of the country, cities)
_COUNTRIES: dict[str, tuple[int, tuple[str, ...], str, tuple[str, ...], tuple[str, ...]]] = {
    "US": (40, _pipes("Inc.|LLC|Corp.|Co."), ".com",
           _pipes("USA|United States|US|U.S.A.|united states of america|United States"),
           _pipes("New York|San Francisco|Austin|Chicago|Boston|Seattle")),
    "DE": (14, _pipes("GmbH|AG|GmbH & Co. KG"), ".de", _pipes("Germany|DE|Deutschland|GERMANY"),
           _pipes("München|Berlin|Köln|Düsseldorf|Hamburg")),
    "GB": (12, _pipes("Ltd|plc|Limited"), ".co.uk", _pipes("United Kingdom|UK|GB|England"),
           _pipes("London|Manchester|Edinburgh|Bristol")),
    "FR": (8, _pipes("SAS|S.A.|SARL"), ".fr", _pipes("France|FR|france"),
           _pipes("Paris|Lyon|Marseille|Orléans")),
    "JP": (6, _pipes("K.K.|Co., Ltd."), ".co.jp", _pipes("Japan|JP|日本"),
           _pipes("東京|Osaka|Kyoto")),
    "BR": (6, _pipes("Ltda.|S.A."), ".com.br", _pipes("Brazil|Brasil|BR"),
           _pipes("São Paulo|Rio de Janeiro")),
    "CH": (6, _pipes("AG|SA|GmbH"), ".ch", _pipes("Switzerland|Schweiz|CH|Suisse"),
           _pipes("Zürich|Genève|Basel")),
    "PL": (8, _pipes("Sp. z o.o.|S.A."), ".pl", _pipes("Poland|Polska|PL"),
           _pipes("Kraków|Łódź|Warszawa")),
}  # fmt: skip
# Non-ASCII company names: (name, domain, country)
_UNICODE_NAMES = tuple(
    tuple(line.split("|"))
    for line in (
        "Müller & Söhne|müller-söhne.de|DE", "Bäckerei Schröder|baeckerei-schroeder.de|DE",
        "Société Générale de Café|sgcafe.fr|FR", "Zürich Präzision|zuerich-praezision.ch|CH",
        "Łódź Logistyka|lodzlogistyka.pl|PL", "São Paulo Têxtil|sptextil.com.br|BR",
        "東京テック|tokyo-tech.co.jp|JP", "Ñandú Servicios|nandu.com|US",
        "Ærø Fisk|aeroefisk.com|US",
        "\u0130stanbul G\u0131da|istanbulgida.com|US", "🚀 Rocket Labs|rocketlabs.io|US",
        "Crème Brûlée Co.|cremebrulee.com|US",
    )
)  # fmt: skip
_WEIGHTED_COUNTRIES = tuple(c for c, spec in _COUNTRIES.items() for _ in range(spec[0]))
_SUBSIDIARY = _pipes("EMEA|Holdings|Europe|APAC|Services|Labs")
_JUNK_INDUSTRIES = _pipes(
    "tech|Software|SaaS|Fin Tech|healthcare|Manufacturing |IT Services|N/A|Biotech|Banking/Finance"
)
_JUNK_WEBSITES = _pipes("n/a|none|-|TBD|www|http://|unknown|N/A")
_FREE_SITES = _pipes(
    "gmail.com|sites.google.com/view/{slug}|facebook.com/{slug}|linkedin.com/company/{slug}"
    "|{slug}.wixsite.com/home"
)
_WEBSITE_FORMS = _pipes(
    "{d}|www.{d}|http://{d}|https://www.{d}/|https://{d}/en-us/home|HTTPS://WWW.{D}| {d} "
    "|{d}/?utm_source=crm|https://{d}:443|http://www.{d}/about|{d}.|https://{d}#contact"
)


@dataclass
class GeneratedOrg:
    rows: list[dict[str, Any]]
    notable: dict[str, Any] = field(default_factory=dict)


def _messy_website(rng: random.Random, domain: str, slug: str) -> str | None:
    roll = rng.random()
    if roll < 0.10:
        return None
    if roll < 0.13:
        return rng.choice(("   ", " ", "\t"))  # blank, but not empty: Salesforce stores "" as null
    if roll < 0.15:
        return rng.choice(_JUNK_WEBSITES)
    if roll < 0.18:
        return rng.choice(_FREE_SITES).format(slug=slug)
    return rng.choice(_WEBSITE_FORMS).format(d=domain, D=domain.upper())


def _company(
    rng: random.Random, number: int, used: set[str], families: list[tuple[str, str, str]]
) -> tuple[str, str, str]:
    """(name, web domain, country) of one account; some share a domain with a sibling."""
    country = rng.choice(_WEIGHTED_COUNTRIES)
    suffixes, tld = _COUNTRIES[country][1], _COUNTRIES[country][2]
    roll = rng.random()
    if roll < 0.03:  # a non-ASCII name
        name, domain, country = rng.choice(_UNICODE_NAMES)
        if domain in used:
            stem, _, rest = domain.partition(".")
            name, domain = f"{name} {number}", f"{stem}{number}.{rest}"
    elif roll < 0.09 and families:  # a subsidiary sharing its parent's domain
        brand, domain, country = rng.choice(families)
        return f"{brand} {rng.choice(_SUBSIDIARY)}", domain, country
    else:
        brand = f"{rng.choice(_PREFIXES)} {rng.choice(_MIDDLES)} {rng.choice(_NOUNS)}"
        domain = brand.lower().replace(" ", rng.choice(("", "-"))) + tld
        if domain in used:
            brand, domain = f"{brand} {number}", domain.replace(tld, f"{number}{tld}")
        name = f"{brand} {rng.choice(suffixes)}"
        if rng.random() < 0.04:
            families.append((brand, domain, country))
    used.add(domain)
    if rng.random() < 0.02:
        name = rng.choice((name.upper(), f"  {name} ", f"{name} (old)", f"TEST - {name}"))
    return name, domain, country


def _maybe(rng: random.Random, probability: float, value: Any) -> Any:
    return value if rng.random() < probability else None


def generate_accounts(count: int, seed: int, now: datetime, days: int = 120) -> GeneratedOrg:
    """`count` Account rows (Python values; datetimes aware UTC), deterministic in the inputs."""
    rng = random.Random(f"salesforce-sandbox/{seed}")
    now = now.astimezone(UTC).replace(microsecond=0)
    used: set[str] = set()
    families: list[tuple[str, str, str]] = []
    rows: list[dict[str, Any]] = []
    for number in range(1, count + 1):
        name, domain, country = _company(rng, number, used, families)
        _, _, _, spellings, cities = _COUNTRIES[country]
        stamp = now - timedelta(seconds=rng.randrange(1, days * 86400))
        created = stamp - timedelta(seconds=rng.randrange(0, 3 * 365 * 86400))
        modified = stamp
        if rng.random() < 0.2:  # a system change bumped SystemModstamp only
            modified = max(created, stamp - timedelta(seconds=rng.randrange(1, 9 * 86400)))
        owner = rng.choice(USER_IDS)
        industry_roll = rng.random()
        if industry_roll < 0.75:
            industry = rng.choice(INDUSTRIES)
        else:
            industry = None if industry_roll < 0.9 else rng.choice(_JUNK_INDUSTRIES)
        phone = f"+{rng.randrange(1, 99)} {rng.randrange(100, 999)} {rng.randrange(10**4, 10**7)}"
        street = f"{rng.randrange(1, 400)} {rng.choice(_NOUNS)} Street"
        employees = int(rng.lognormvariate(4.0, 1.8))
        rows.append(
            {
                "Id": salesforce_id("001", number),
                "IsDeleted": rng.random() < 0.03,
                "Name": name,
                "Type": _maybe(rng, 0.7, rng.choice(ACCOUNT_TYPES)),
                "Industry": industry,
                "Website": _messy_website(rng, domain, domain.split(".")[0]),
                "Phone": _maybe(rng, 0.6, phone),
                "NumberOfEmployees": _maybe(rng, 0.85, employees),
                "AnnualRevenue": _maybe(rng, 0.7, float(rng.randrange(10, 500_000) * 1000)),
                "BillingStreet": _maybe(rng, 0.7, street),
                "BillingCity": _maybe(rng, 0.85, rng.choice(cities)),
                "BillingState": None,
                "BillingPostalCode": _maybe(rng, 0.6, str(rng.randrange(10000, 99999))),
                "BillingCountry": _maybe(rng, 0.9, rng.choice(spellings)),
                "Description": _description(rng, name),
                "OwnerId": owner,
                "CreatedDate": created,
                "CreatedById": rng.choice(USER_IDS),
                "LastModifiedDate": modified,
                "LastModifiedById": owner,
                "SystemModstamp": stamp,
            }
        )
    return GeneratedOrg(rows, _plant_edge_cases(rng, rows, now, days))


def _description(rng: random.Random, name: str) -> str | None:
    roll = rng.random()
    if roll < 0.5:
        return None
    if roll < 0.6:
        return f'Key account, "strategic" for FY27, contact via partner, see notes\n{name}'
    if roll < 0.65:
        return "Übernahme geplant; Ansprechpartner: Jürgen Groß, Tel. +49 89 1234"
    return f"{name} — imported from trade show list, batch {rng.randrange(1, 40)}"


def _plant_edge_cases(
    rng: random.Random, rows: list[dict[str, Any]], now: datetime, days: int
) -> dict[str, Any]:
    """Put several rows on the very same instant at a day boundary (and a same-instant bulk
    import mid-day, and a row one second before midnight); return what was planted."""
    if len(rows) < 20:
        return {}
    midnight = now.replace(hour=0, minute=0, second=0) - timedelta(days=min(3, days - 1))
    picks = rng.sample(range(len(rows)), min(len(rows) // 4, 60))
    at_midnight, before_midnight, bulk = picks[:6], picks[6:8], picks[8:]
    bulk_stamp = midnight - timedelta(days=min(10, days - 1), hours=-9, minutes=-30)
    for index, stamp in (
        *((i, midnight) for i in at_midnight),
        *((i, midnight - timedelta(seconds=1)) for i in before_midnight),
        *((i, bulk_stamp) for i in bulk),
    ):
        row = rows[index]
        row["SystemModstamp"] = row["LastModifiedDate"] = stamp
        row["CreatedDate"] = min(row["CreatedDate"], stamp)
    rows[at_midnight[0]]["IsDeleted"] = True
    return {
        "day_boundary": {"stamp": midnight, "ids": [rows[i]["Id"] for i in at_midnight]},
        "before_day_boundary": {
            "stamp": midnight - timedelta(seconds=1),
            "ids": [rows[i]["Id"] for i in before_midnight],
        },
        "same_instant": {"stamp": bulk_stamp, "ids": [rows[i]["Id"] for i in bulk]},
    }

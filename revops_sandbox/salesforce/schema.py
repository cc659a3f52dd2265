"""The Account object of the sandbox org: its fields, its describe, and validation of writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from revops_sandbox.salesforce.errors import SalesforceApiError

STRING_TYPES = {"id", "string", "url", "picklist", "textarea", "phone", "reference"}
NUMBER_TYPES = {"int", "double", "currency"}
_SOAP_TYPES = {
    "id": "tns:ID",
    "reference": "tns:ID",
    "boolean": "xsd:boolean",
    "int": "xsd:int",
    "double": "xsd:double",
    "currency": "xsd:double",
    "datetime": "xsd:dateTime",
}

INDUSTRIES = (
    "Agriculture",
    "Apparel",
    "Banking",
    "Biotechnology",
    "Chemicals",
    "Communications",
    "Construction",
    "Consulting",
    "Education",
    "Electronics",
    "Energy",
    "Engineering",
    "Entertainment",
    "Environmental",
    "Finance",
    "Food & Beverage",
    "Government",
    "Healthcare",
    "Hospitality",
    "Insurance",
    "Machinery",
    "Manufacturing",
    "Media",
    "Not For Profit",
    "Recreation",
    "Retail",
    "Shipping",
    "Technology",
    "Telecommunications",
    "Transportation",
    "Utilities",
    "Other",
)
ACCOUNT_TYPES = (
    "Prospect",
    "Customer - Direct",
    "Customer - Channel",
    "Channel Partner / Reseller",
    "Installation Partner",
    "Technology Partner",
    "Other",
)


@dataclass(frozen=True)
class FieldSpec:
    name: str
    type: str
    label: str
    length: int = 0
    updateable: bool = True
    nillable: bool = True
    picklist: tuple[str, ...] = ()
    reference_to: tuple[str, ...] = ()
    filterable: bool = True
    precision: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def createable(self) -> bool:
        return self.updateable

    @property
    def sortable(self) -> bool:
        return self.filterable

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "label": self.label,
            "type": self.type,
            "soapType": _SOAP_TYPES.get(self.type, "xsd:string"),
            "length": self.length,
            "byteLength": self.length * 3,
            "digits": 9 if self.type == "int" else 0,
            "precision": self.precision,
            "scale": 0,
            "nillable": self.nillable,
            "createable": self.createable,
            "updateable": self.updateable,
            "filterable": self.filterable,
            "sortable": self.sortable,
            "groupable": self.filterable and self.type not in {"double", "currency"},
            "custom": False,
            "calculated": False,
            "unique": False,
            "externalId": False,
            "idLookup": self.name in {"Id", "Name"},
            "defaultedOnCreate": not self.updateable and self.name != "Id",
            "referenceTo": list(self.reference_to),
            "relationshipName": self.name[:-2] if self.reference_to else None,
            "picklistValues": [
                {"active": True, "defaultValue": False, "label": v, "value": v, "validFor": None}
                for v in self.picklist
            ],
            "restrictedPicklist": False,
        }


def _f(name: str, type_: str, label: str, length: int = 0, **kw: Any) -> FieldSpec:
    return FieldSpec(name, type_, label, length, **kw)


ACCOUNT_FIELDS: tuple[FieldSpec, ...] = (
    _f("Id", "id", "Account ID", 18, updateable=False, nillable=False),
    _f("IsDeleted", "boolean", "Deleted", updateable=False, nillable=False),
    _f("Name", "string", "Account Name", 255, nillable=False),
    _f("Type", "picklist", "Account Type", 255, picklist=ACCOUNT_TYPES),
    _f("Industry", "picklist", "Industry", 255, picklist=INDUSTRIES),
    _f("Website", "url", "Website", 255),
    _f("Phone", "phone", "Account Phone", 40),
    _f("NumberOfEmployees", "int", "Employees"),
    _f("AnnualRevenue", "currency", "Annual Revenue", precision=18),
    _f("BillingStreet", "textarea", "Billing Street", 255),
    _f("BillingCity", "string", "Billing City", 40),
    _f("BillingState", "string", "Billing State/Province", 80),
    _f("BillingPostalCode", "string", "Billing Zip/Postal Code", 20),
    _f("BillingCountry", "string", "Billing Country", 80),
    _f("Description", "textarea", "Account Description", 32000, filterable=False),
    _f("OwnerId", "reference", "Owner ID", 18, nillable=False, reference_to=("User",)),
    _f("CreatedDate", "datetime", "Created Date", updateable=False, nillable=False),
    _f("CreatedById", "reference", "Created By ID", 18, updateable=False, reference_to=("User",)),
    _f("LastModifiedDate", "datetime", "Last Modified Date", updateable=False, nillable=False),
    _f(
        "LastModifiedById",
        "reference",
        "Last Modified By ID",
        18,
        updateable=False,
        reference_to=("User",),
    ),
    _f("SystemModstamp", "datetime", "System Modstamp", updateable=False, nillable=False),
)
ACCOUNT_FIELD_MAP = {f.name.lower(): f for f in ACCOUNT_FIELDS}
SOBJECTS = {"account": ACCOUNT_FIELD_MAP}  # what SOQL can query: lower-case name -> fields
SYSTEM_FIELDS = ("CreatedDate", "LastModifiedDate", "SystemModstamp", "IsDeleted")


def describe_account(version: str) -> dict[str, Any]:
    base = f"/services/data/v{version}/sobjects/Account"
    return {
        "name": "Account",
        "label": "Account",
        "labelPlural": "Accounts",
        "keyPrefix": "001",
        "custom": False,
        "queryable": True,
        "createable": True,
        "updateable": True,
        "deletable": True,
        "undeletable": True,
        "replicateable": True,
        "retrieveable": True,
        "searchable": True,
        "fields": [f.describe() for f in ACCOUNT_FIELDS],
        "urls": {
            "sobject": base,
            "describe": f"{base}/describe",
            "rowTemplate": f"{base}/{{ID}}",
        },
    }


def sobject_summary(version: str) -> dict[str, Any]:
    full = describe_account(version)
    keys = ("name", "label", "labelPlural", "keyPrefix", "custom", "queryable", "createable")
    summary = {k: full[k] for k in keys}
    summary["urls"] = {"sobject": full["urls"]["sobject"], "describe": full["urls"]["describe"]}
    return summary


def _coerce(spec: FieldSpec, value: Any) -> Any:
    """A JSON value for `spec` as the sandbox stores it, or a Salesforce error naming the field."""
    if value is None or (value == "" and spec.type in STRING_TYPES):
        if not spec.nillable:
            raise SalesforceApiError(
                400,
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{spec.name}]",
                [spec.name],
            )
        return None
    kind = spec.type
    if kind in STRING_TYPES:
        if not isinstance(value, str):
            value = str(value).lower() if isinstance(value, bool) else str(value)
        if spec.length and len(value) > spec.length:
            raise SalesforceApiError(
                400,
                "STRING_TOO_LONG",
                f"{spec.label}: data value too large: {value[:40]}... (max length={spec.length})",
                [spec.name],
            )
        return value
    if kind == "boolean" and isinstance(value, bool):
        return value
    if kind in NUMBER_TYPES and not isinstance(value, bool):
        try:
            number = float(value) if isinstance(value, str) else value
            if isinstance(number, int | float):
                if kind == "int":
                    if float(number) != int(number):
                        raise ValueError
                    return int(number)
                return float(number)
        except (TypeError, ValueError, OverflowError):
            pass
    expected = {"int": "int", "boolean": "boolean"}.get(kind, "double")
    raise SalesforceApiError(
        400,
        "JSON_PARSER_ERROR",
        f"Cannot deserialize instance of {expected} from {type(value).__name__.upper()} value "
        f"{value!r} or request may be missing a required field at [line:1, column:1]",
        [spec.name],
    )


def validate_write(
    data: Any, *, allow_system: bool = False, parse_datetime: Any = None
) -> dict[str, Any]:
    """Check a PATCH/POST body against the Account fields; return canonical name -> value."""
    if not isinstance(data, dict):
        raise SalesforceApiError(
            400, "JSON_PARSER_ERROR", "The request body must be a JSON object of field values"
        )
    out: dict[str, Any] = {}
    for key, value in data.items():
        if key == "attributes":
            continue
        spec = ACCOUNT_FIELD_MAP.get(str(key).lower())
        if spec is None:
            raise SalesforceApiError(
                400, "INVALID_FIELD", f"No such column '{key}' on sobject of type Account", [key]
            )
        if allow_system and spec.name in SYSTEM_FIELDS and spec.type == "datetime":
            if isinstance(value, datetime):
                out[spec.name] = value
            else:
                out[spec.name] = parse_datetime(value)
            continue
        if allow_system and spec.name == "IsDeleted":
            out[spec.name] = bool(value)
            continue
        if not spec.updateable:
            raise SalesforceApiError(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {spec.name}. Please check the security "
                "settings of this field and verify that it is read/write for your profile or "
                "permission set.",
                [spec.name],
            )
        out[spec.name] = _coerce(spec, value)
    return out

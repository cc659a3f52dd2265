"""The SOAP partner `login` call (`POST /services/Soap/u/<version>`) that simple-salesforce uses
for username + password + security token, with the real success and fault envelopes."""

from __future__ import annotations

from typing import TYPE_CHECKING
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from starlette.requests import Request
from starlette.responses import Response

from revops_sandbox.salesforce.org import USER_IDS

if TYPE_CHECKING:
    from revops_sandbox.salesforce.sandbox import SalesforceSandbox

_ENVELOPE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" {ns}'
    ' xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>{body}'
    "</soapenv:Body></soapenv:Envelope>"
)


def _fault(code: str, message: str, status: int = 500) -> Response:
    body = (
        f"<soapenv:Fault><faultcode>sf:{code}</faultcode>"
        f"<faultstring>{code}: {escape(message)}</faultstring><detail>"
        '<sf:LoginFault xsi:type="sf:LoginFault">'
        f"<sf:exceptionCode>{code}</sf:exceptionCode>"
        f"<sf:exceptionMessage>{escape(message)}</sf:exceptionMessage>"
        "</sf:LoginFault></detail></soapenv:Fault>"
    )
    xml = _ENVELOPE.format(ns='xmlns:sf="urn:fault.partner.soap.sforce.com"', body=body)
    return Response(xml, status_code=status, media_type="text/xml; charset=utf-8")


def _text(root: ElementTree.Element, local_name: str) -> str | None:
    for element in root.iter():
        if element.tag.rsplit("}", 1)[-1] == local_name:
            return element.text or ""
    return None


async def soap_login(sandbox: SalesforceSandbox, request: Request) -> Response:
    version = request.path_params["version"]
    sandbox.counts["login"] += 1
    try:
        root = ElementTree.fromstring(await request.body())
    except ElementTree.ParseError as exc:
        return _fault("INVALID_REQUEST", f"could not parse the SOAP request: {exc}")
    username, password = _text(root, "username"), _text(root, "password")
    if username is None or password is None:
        return _fault("INVALID_REQUEST", "the login call needs a username and a password")
    expected = sandbox.password + (sandbox.security_token or "")
    if username != sandbox.username or password != expected:
        sandbox.counts["login_failed"] += 1
        return _fault(
            "INVALID_LOGIN", "Invalid username, password, security token; or user locked out."
        )
    session_id = sandbox.new_session()
    base = str(request.base_url).rstrip("/")
    org = "00DDn0000000001"
    body = (
        "<loginResponse><result>"
        f"<metadataServerUrl>{base}/services/Soap/m/{version}/{org}</metadataServerUrl>"
        "<passwordExpired>false</passwordExpired><sandbox>true</sandbox>"
        f"<serverUrl>{base}/services/Soap/u/{version}/{org}</serverUrl>"
        f"<sessionId>{escape(session_id)}</sessionId><userId>{USER_IDS[0]}</userId>"
        "<userInfo><organizationId>00DDn0000000001MAA</organizationId>"
        f"<userName>{escape(sandbox.username)}</userName>"
        "<userTimeZone>Europe/Berlin</userTimeZone></userInfo>"
        "</result></loginResponse>"
    )
    xml = _ENVELOPE.format(ns='xmlns="urn:partner.soap.sforce.com"', body=body)
    return Response(xml, media_type="text/xml; charset=utf-8")

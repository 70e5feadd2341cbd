"""Who may call the simulated org: sessions, the SOAP ``login()`` call and the OAuth JWT bearer flow.

Shapes follow ``tests/fixtures/salesforce``: ``soap_login_response.minimal.xml`` for a SOAP login,
``oauth_token_response.example.json`` for a token, ``error_401_invalid_session.json`` for a dead session.
A failed SOAP login is the ``LoginFault`` Salesforce sends (faultcode ``sf:INVALID_LOGIN``), whose
``sf:exceptionCode`` element is what simple-salesforce reads; a refused JWT is OAuth's
``{"error", "error_description"}`` with HTTP 400.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from typing import Any
from xml.sax.saxutils import escape

import jwt
from flask import Response

from sandbox.base import json_response

PARTNER_NS = "urn:partner.soap.sforce.com"
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
INVALID_SESSION = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
LOGIN_OK = """<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns="urn:partner.soap.sforce.com" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <soapenv:Body>
    <loginResponse>
      <result>
        <metadataServerUrl>{instance}/services/Soap/m/{version}/{org}</metadataServerUrl>
        <passwordExpired>false</passwordExpired>
        <sandbox>{sandbox}</sandbox>
        <serverUrl>{instance}/services/Soap/u/{version}/{org}</serverUrl>
        <sessionId>{session}</sessionId>
        <userId>{user}</userId>
      </result>
    </loginResponse>
  </soapenv:Body>
</soapenv:Envelope>
"""
LOGIN_FAULT = """<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope \
xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:sf="urn:fault.partner.soap.sforce.com" \
xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><soapenv:Fault><faultcode>sf:{code}</faultcode>\
<faultstring>{code}: {message}</faultstring><detail><sf:LoginFault xsi:type="sf:LoginFault">\
<sf:exceptionCode>{code}</sf:exceptionCode><sf:exceptionMessage>{message}</sf:exceptionMessage></sf:LoginFault>\
</detail></soapenv:Fault></soapenv:Body></soapenv:Envelope>"""
BAD_LOGIN = "Invalid username, password, security token; or user locked out."


@dataclass
class Org:
    """The org's identity and credentials, and the sessions it currently honours."""

    instance_url: str
    org_id: str
    user_id: str
    username: str
    password: str | None = None
    security_token: str | None = None
    consumer_key: str | None = None
    jwt_public_key: Any = None
    sandbox: bool = False
    sessions: set[str] = field(default_factory=set)

    def new_session(self) -> str:
        session = f"{self.org_id}!{secrets.token_urlsafe(24)}"
        self.sessions.add(session)
        return session

    def valid(self, authorization: str) -> bool:
        scheme, _, token = authorization.partition(" ")
        return scheme in ("Bearer", "OAuth") and any(hmac.compare_digest(token, s) for s in list(self.sessions))


def soap_login(org: Org, raw: bytes, version: str) -> Response:
    """``login(username, password + security token)`` on the partner SOAP endpoint."""
    try:
        root = ET.fromstring(raw)  # noqa: S314 - the simulator parses its own client's request on loopback
    except ET.ParseError:
        return _fault("INVALID_LOGIN", "The login request could not be read", status=500)
    username = root.findtext(f".//{{{PARTNER_NS}}}username") or ""
    password = root.findtext(f".//{{{PARTNER_NS}}}password") or ""
    expected = (org.password or "") + (org.security_token or "")
    ok = org.password is not None and username.lower() == org.username.lower()
    if not (ok and hmac.compare_digest(password.encode(), expected.encode())):
        return _fault("INVALID_LOGIN", BAD_LOGIN, status=500)
    body = LOGIN_OK.format(
        instance=org.instance_url,
        version=version,
        org=org.org_id,
        sandbox=str(org.sandbox).lower(),
        session=escape(org.new_session()),
        user=org.user_id,
    )
    return Response(body, status=200, content_type="text/xml;charset=UTF-8")


def _fault(code: str, message: str, *, status: int) -> Response:
    body = LOGIN_FAULT.format(code=code, message=escape(message))
    return Response(body, status=status, content_type="text/xml;charset=UTF-8")


def jwt_token(org: Org, form: dict[str, str], audiences: list[str]) -> Response:
    """The OAuth 2.0 JWT bearer flow: verify the assertion, answer a token like the fixture."""
    if form.get("grant_type") != JWT_GRANT:
        return _oauth_error("unsupported_grant_type", "grant type not supported")
    if org.jwt_public_key is None or org.consumer_key is None:
        return _oauth_error("invalid_client_id", "client identifier invalid")
    try:
        claims = jwt.decode(
            form.get("assertion", ""),
            org.jwt_public_key,
            algorithms=["RS256"],
            audience=audiences,
            options={"require": ["exp", "iss", "sub", "aud"]},
        )
    except jwt.InvalidAudienceError:
        return _oauth_error("invalid_grant", "audience is invalid")
    except jwt.PyJWTError:
        return _oauth_error("invalid_grant", "invalid assertion")
    if claims["iss"] != org.consumer_key:
        return _oauth_error("invalid_client_id", "client identifier invalid")
    if str(claims["sub"]).lower() != org.username.lower():
        return _oauth_error("invalid_grant", "user hasn't approved this consumer")
    return json_response(_token(org))


def _token(org: Org) -> dict[str, str]:
    identity = f"https://login.salesforce.com/id/{org.org_id}AAA/{org.user_id}"
    issued = str(int(time.time() * 1000))
    digest = hmac.new(org.org_id.encode(), (identity + issued).encode(), hashlib.sha256).digest()
    return {
        "access_token": org.new_session(),
        "instance_url": org.instance_url,
        "id": identity,
        "token_type": "Bearer",
        "issued_at": issued,
        "signature": base64.b64encode(digest).decode(),
    }


def _oauth_error(code: str, description: str) -> Response:
    return json_response({"error": code, "error_description": description}, status=400)


def userinfo(org: Org, name: str, email: str | None) -> dict[str, Any]:
    """``GET /services/oauth2/userinfo``: the OpenID Connect claims of the session's user (subset)."""
    return {
        "sub": f"https://login.salesforce.com/id/{org.org_id}AAA/{org.user_id}",
        "user_id": org.user_id,
        "organization_id": org.org_id + "AAA",
        "preferred_username": org.username,
        "nickname": org.username.split("@")[0],
        "name": name,
        "email": email,
        "email_verified": True,
        "active": True,
        "user_type": "STANDARD",
    }

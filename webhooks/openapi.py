"""The bridge's own OpenAPI description of its webhook endpoints, served at ``GET /openapi.json``.

It documents what each endpoint accepts and answers (including every 4xx), so platform teams and
proxies know the contract, and so the fuzz tests (schemathesis) can generate requests from it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, jsonify

bp = Blueprint("openapi", __name__)

ERROR = {"$ref": "#/components/schemas/Error"}
ACK = {"$ref": "#/components/schemas/Ack"}


def _answers(ok: dict[str, Any], *errors: int) -> dict[str, Any]:
    descriptions = {
        400: "malformed body or missing fields",
        401: "missing, wrong or stale signature / secret",
        403: "verify token mismatch",
        404: "unknown channel",
        405: "method not allowed",
        413: "body over 1 MiB",
        415: "not application/json",
        503: "storage unavailable: redeliver later",
    }
    out = {"200": {"description": "accepted", "content": {"application/json": {"schema": ok}}}}
    for status in errors:
        out[str(status)] = {"description": descriptions[status], "content": {"application/json": {"schema": ERROR}}}
    if 503 in errors:
        wait = {"description": "seconds to wait before delivering again", "schema": {"type": "integer"}}
        out["503"]["headers"] = {"Retry-After": wait}
    return out


def _header(name: str, description: str, *, required: bool = True) -> dict[str, Any]:
    return {
        "name": name,
        "in": "header",
        "required": required,
        "description": description,
        "schema": {"type": "string"},
    }


def _json_body(description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "required": True,
        "description": description,
        "content": {"application/json": {"schema": schema or {"type": "object"}}},
    }


def _dashboard(summary: str, content: str) -> dict[str, Any]:
    """A path of the dashboard: 404 while [dashboard] names no credential, 401 without it."""
    error = {"content": {"application/json": {"schema": ERROR}}}
    return {
        "summary": summary,
        "parameters": [
            _header("Authorization", "Basic (user, password) or Bearer <[dashboard] token>", required=False)
        ],
        "responses": {
            "200": {"description": "the answer", "content": {content: {"schema": {"type": "string"}}}},
            "400": {"description": "a malformed period, channel or tz (named)", **error},
            "401": {"description": "credentials required", **error},
            "404": {"description": "the dashboard is off, or no such file", **error},
            "503": _answers({}, 503)["503"],
        },
    }


CHANNEL = {
    "name": "name",
    "in": "path",
    "required": True,
    "description": "the channel's name in socialdesk.toml",
    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_.-]+$"},
}
CRC = {"name": "crc_token", "in": "query", "required": True, "schema": {"type": "string"}}
X_SIGNATURE = _header("x-twitter-webhooks-signature", "sha256= + base64 HMAC-SHA256 of the raw body (consumer secret)")
SIGNED_POST = (400, 401, 413, 415, 503)

PATHS: dict[str, dict[str, Any]] = {
    "/healthz": {"get": {"summary": "Liveness", "responses": _answers({"type": "object"})}},
    "/readyz": {
        "get": {
            "summary": "Readiness: the store answers, so a webhook can be stored now",
            "responses": _answers({"type": "object", "properties": {"ready": {"const": True}}}, 503),
        }
    },
    "/metrics": {
        "get": {
            "summary": "Prometheus series (text format); a bearer token when [metrics] token is set",
            "parameters": [_header("Authorization", "Bearer <[metrics] token>", required=False)],
            "responses": {
                "200": {"description": "the series", "content": {"text/plain": {"schema": {"type": "string"}}}},
                **{k: v for k, v in _answers({}, 401, 503).items() if k != "200"},
            },
        }
    },
    "/dashboard": {"get": _dashboard("The dashboard page (HTML)", "text/html")},
    "/dashboard/static/{name}": {
        "get": {
            **_dashboard("The page's script, style and icon", "text/plain"),
            "parameters": [
                {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}},
                *_dashboard("", "")["parameters"],
            ],
        }
    },
    "/dashboard/api/status": {"get": _dashboard("What socialdesk status says (bridge.status)", "application/json")},
    "/dashboard/api/figures": {
        "get": {
            **_dashboard(
                "The figures, charts' series and status the page shows (bridge.dashboard)", "application/json"
            ),
            "parameters": [
                *(
                    {"name": n, "in": "query", "required": False, "description": d, "schema": {"type": "string"}}
                    for n, d in (
                        ("period", "7d, 2026-11 or 2026-11-01..2026-11-15"),
                        ("channel", "a channel or all"),
                        ("tz", "a time zone name"),
                    )
                ),
                *_dashboard("", "")["parameters"],
            ],
        }
    },
    "/webhooks/meta": {
        "get": {
            "summary": "Meta's subscription handshake: echoes hub.challenge when hub.verify_token matches",
            "parameters": [
                {"name": f"hub.{n}", "in": "query", "required": False, "schema": {"type": "string"}}
                for n in ("mode", "verify_token", "challenge")
            ],
            "responses": {
                "200": {"description": "the challenge", "content": {"text/plain": {"schema": {"type": "string"}}}},
                "400": _answers({}, 400)["400"],
                "403": _answers({}, 403)["403"],
            },
        },
        "post": {
            "summary": "Facebook pages, Messenger, Instagram and WhatsApp events",
            "parameters": [
                _header("X-Hub-Signature-256", "sha256= + hex HMAC-SHA256 of the raw body with the app secret")
            ],
            "requestBody": _json_body(
                "Meta's webhook envelope",
                {
                    "type": "object",
                    "required": ["object", "entry"],
                    "properties": {"object": {"type": "string"}, "entry": {"type": "array"}},
                },
            ),
            "responses": _answers(ACK, *SIGNED_POST),
        },
    },
    "/webhooks/zendesk": {
        "post": {
            "summary": "A Zendesk ticket changed (event subscription or trigger body with ticket_id), or a user event",
            "parameters": [
                _header("X-Zendesk-Webhook-Signature", "base64 HMAC-SHA256 of timestamp + raw body"),
                _header("X-Zendesk-Webhook-Signature-Timestamp", "ISO 8601; refused when more than 5 minutes off"),
                _header("X-Zendesk-Webhook-Invocation-Id", "deduplication key", required=False),
            ],
            "requestBody": _json_body('zen:event-type:ticket.* or user.* envelope, or {"ticket_id": "123"}'),
            "responses": _answers({"type": "object"}, *SIGNED_POST),
        }
    },
    "/webhooks/freshdesk": {
        "post": {
            "summary": "A Freshdesk ticket got an agent reply (automation rule webhook)",
            "parameters": [_header("X-Socialdesk-Secret", "the shared secret, compared in constant time")],
            "requestBody": _json_body('{"ticket_id": "123"} or {"freshdesk_webhook": {"ticket_id": ...}}'),
            "responses": _answers({"type": "object"}, *SIGNED_POST),
        }
    },
    "/webhooks/x": {
        "get": {"summary": "X's CRC check", "parameters": [CRC], "responses": _answers({"type": "object"}, 400, 401)},
        "post": {
            "summary": "Account Activity API or X Activity API events",
            "parameters": [X_SIGNATURE],
            "requestBody": _json_body("X's event envelope"),
            "responses": _answers(ACK, *SIGNED_POST),
        },
    },
    "/webhooks/x/{name}": {
        "get": {
            "summary": "X's CRC check for one channel",
            "parameters": [CHANNEL, CRC],
            "responses": _answers({"type": "object"}, 400, 401, 404),
        },
        "post": {
            "summary": "X events for one channel",
            "parameters": [CHANNEL, X_SIGNATURE],
            "requestBody": _json_body("X's event envelope"),
            "responses": _answers(ACK, *SIGNED_POST, 404),
        },
    },
    "/webhooks/telegram/{name}": {
        "post": {
            "summary": "A Telegram Bot API update",
            "parameters": [CHANNEL, _header("X-Telegram-Bot-Api-Secret-Token", "the channel's secret_token")],
            "requestBody": _json_body("a Telegram Update"),
            # a button press: the method Telegram runs on our behalf (the button stops spinning)
            "responses": _answers({"oneOf": [ACK, {"$ref": "#/components/schemas/AnswerPress"}]}, *SIGNED_POST, 404),
        },
    },
    "/webhooks/generic/{name}": {
        "post": {
            "summary": "A message from your own website or app (schema: webhooks/schemas/generic_message.json)",
            "parameters": [
                CHANNEL,
                _header("X-Socialdesk-Signature", "v1= + hex HMAC-SHA256 of '<timestamp>.' + body"),
                _header("X-Socialdesk-Timestamp", "Unix seconds; 5 minutes tolerance"),
            ],
            "requestBody": _json_body("one message"),
            "responses": _answers(ACK, *SIGNED_POST, 404),
        },
    },
}


def spec() -> dict[str, Any]:
    """The whole document."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "socialdesk webhooks",
            "version": "1.0.0",
            "description": "Inbound endpoints of the socialdesk bridge. Every error is a short JSON object.",
        },
        "paths": PATHS,
        "components": {
            "schemas": {
                "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
                "AnswerPress": {
                    "type": "object",
                    "required": ["method", "callback_query_id"],
                    "properties": {
                        "method": {"type": "string", "enum": ["answerCallbackQuery"]},
                        "callback_query_id": {"type": "string"},
                    },
                },
                "Ack": {
                    "type": "object",
                    "required": ["ok"],
                    "properties": {
                        "ok": {"type": "boolean"},
                        "received": {"type": "integer"},
                        "stored": {"type": "integer"},
                    },
                },
            }
        },
    }


@bp.get("/openapi.json")
def openapi() -> Response:
    document = spec()
    registered = {rule.rule for rule in current_app.url_map.iter_rules()}
    document["paths"] = {p: v for p, v in document["paths"].items() if _flask_path(p) in registered}
    return jsonify(document)


def _flask_path(path: str) -> str:
    return path.replace("{name}", "<name>")

"""The Salesforce simulator: REST query / queryAll / sObject calls, SOAP and JWT login, API limits.

It answers on the paths simple-salesforce uses (``/services/data/vXX.X/...``, ``/services/Soap/u/XX.X``,
``/services/oauth2/token``), with the shapes of ``tests/fixtures/salesforce``:

* ``query`` / ``queryAll`` run real SOQL (:mod:`sandbox.salesforce.soql`); results over the page size
  (2,000, or the ``Sforce-Query-Options: batchSize`` header, or the simulator's ``page_size``) are
  paged through a server-side cursor, ``nextRecordsUrl: /services/data/vXX.X/query/01g...-2000``;
* deleted records stay, with ``IsDeleted: true``, visible to ``queryAll`` only;
* upsert by an idLookup field (``R6PostId``) answers 201 with ``created: true``, or 200 with
  ``created: false`` from API 46.0 on (204 before), 300 when several match, 404 for a field that is no
  upsert key; errors are JSON lists of ``{"message", "errorCode"}``;
* every REST answer carries ``Sforce-Limit-Info: api-usage=used/limit``, each call counts, and an org
  out of calls answers 403 ``REQUEST_LIMIT_EXCEEDED``; a dead session answers 401 ``INVALID_SESSION_ID``;
* with ``social_enabled = False`` the org has no SocialPersona / SocialPost (``INVALID_TYPE`` in SOQL,
  ``NOT_FOUND`` over REST), like an org without Social Customer Service.
"""

from __future__ import annotations

import itertools
import re
import secrets
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from flask import Response, request

from sandbox.base import Simulator, json_response
from sandbox.salesforce import auth
from sandbox.salesforce.engine import Engine
from sandbox.salesforce.records import ApiError, error, not_found, parse_body, validated
from sandbox.salesforce.schema import (
    CLOSED_CASE_STATUSES,
    SOCIAL_OBJECTS,
    SObject,
    build_schema,
    id18,
    looks_like_id,
    normal_id,
    sf_datetime,
)
from sandbox.salesforce.soql import SoqlError

Record = dict[str, Any]
DEFAULT_INSTANCE = "https://acme.my.salesforce.com"
DEFAULT_TOKEN = "00D000000000001!AQ0AQFakeTokenForTests"  # oauth_token_response.example.json
ORG_ID, API_USER_ID = "00D000000000001", "005000000000001"
MAX_BATCH, MIN_BATCH = 2000, 200
KEPT_CURSORS = 50
VERSION = re.compile(r"v\d{2,3}\.0")
LIMIT_EXCEEDED = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]


class SalesforceSimulator(Simulator):
    """A Salesforce org on ``127.0.0.1``: see the module docstring. Seed it with ``add_*``."""

    name = "salesforce"

    def __init__(
        self,
        *,
        instance_url: str = DEFAULT_INSTANCE,
        access_token: str | None = DEFAULT_TOKEN,
        username: str = "bridge@acme.test",
        password: str | None = None,
        security_token: str | None = None,
        consumer_key: str | None = None,
        jwt_public_key: Any = None,
        social_enabled: bool = True,
        page_size: int = MAX_BATCH,
        custom_fields: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        super().__init__()
        self.instance_url = instance_url.rstrip("/")
        self.social_enabled = social_enabled
        self.page_size = self._initial_page_size = page_size
        self.schema = build_schema({"Contact": ("Twitter_Handle__c",)} if custom_fields is None else custom_fields)
        self.tables: dict[str, dict[str, Record]] = {name: {} for name in self.schema}
        self.org = auth.Org(
            instance_url=self.instance_url,
            org_id=ORG_ID,
            user_id=id18(API_USER_ID),
            username=username,
            password=password,
            security_token=security_token,
            consumer_key=consumer_key,
            jwt_public_key=jwt_public_key,
            sessions={access_token} if access_token else set(),
        )
        self._state = threading.RLock()
        self._counters = {o.prefix: itertools.count(1) for o in self.schema.values()}
        self._cursors: OrderedDict[str, tuple[list[Record], str]] = OrderedDict()
        self._usage = [0, 100_000]
        self.engine = Engine(self.schema, self.tables, visible=self._visible, lookup=self._find)
        self.insert("User", {"Name": "Bridge Integration", "Username": username, "Email": username}, id_=API_USER_ID)
        self.default_owner_id = self.add_user("Sam Seller", email="sam.seller@acme.test")
        self._routes()

    # -- seeding and inspection ---------------------------------------------------------------------------

    def insert(self, sobject: str, fields: Mapping[str, Any], *, at: datetime | None = None, id_: str = "") -> str:
        """Store a record as is (seeding may set any field, SystemModstamp included); return its id."""
        with self._state:
            schema = self.schema[sobject]
            record_id = id18(id_) if id_ else self._new_id(schema)
            stamp = sf_datetime(at or datetime.now(UTC))
            record: Record = dict.fromkeys(schema.fields)
            record |= {"Id": record_id, "IsDeleted": False, "CreatedDate": stamp, "LastModifiedDate": stamp}
            record |= {"SystemModstamp": stamp, "CreatedById": self.org.user_id, "LastModifiedById": self.org.user_id}
            if "OwnerId" in schema.fields:
                record["OwnerId"] = self.default_owner_id
            record |= {schema.field(k) or k: v for k, v in fields.items()}
            self.tables[sobject][record_id] = _derived(sobject, record, self.tables)
            return record_id

    def update(self, sobject: str, record_id: str, fields: Mapping[str, Any], *, at: datetime | None = None) -> None:
        """Change a record as a user would; SystemModstamp moves to ``at`` (now by default)."""
        with self._state:
            record = self.tables[sobject][normal_id(record_id)]
            stamp = sf_datetime(at or datetime.now(UTC))
            record |= {self.schema[sobject].field(k) or k: v for k, v in fields.items()}
            record |= {"LastModifiedDate": stamp, "SystemModstamp": stamp}
            _derived(sobject, record, self.tables)

    def delete(self, sobject: str, record_id: str, *, at: datetime | None = None) -> None:
        """Move a record to the recycle bin: ``IsDeleted`` becomes true, visible to queryAll only."""
        self.update(sobject, record_id, {"IsDeleted": True}, at=at)

    def add_user(self, name: str, *, email: str | None = None) -> str:
        """A User (a record owner); its id."""
        return self.insert("User", {"Name": name, "Email": email, "Username": email, "IsActive": True})

    def add_account(self, name: str, **fields: Any) -> str:
        """An Account; ``fields`` by API name (``Type``, ``Industry``, ``AnnualRevenue``...)."""
        at = fields.pop("at", None)
        return self.insert("Account", {"Name": name, **fields}, at=at)

    def add_contact(self, name: str, *, at: datetime | None = None, **fields: Any) -> str:
        """A Contact named ``"First Last"``; ``fields`` by API name (``Email``, ``AccountId``, ``Phone``...)."""
        first, _, last = name.rpartition(" ")
        return self.insert("Contact", {"FirstName": first or None, "LastName": last, **fields}, at=at)

    def add_lead(self, name: str, *, company: str, **fields: Any) -> str:
        """A Lead named ``"First Last"`` at ``company``; its id."""
        first, _, last = name.rpartition(" ")
        return self.insert("Lead", {"FirstName": first or None, "LastName": last, "Company": company, **fields})

    def add_case(self, *, contact_id: str | None = None, account_id: str | None = None, status: str = "New") -> str:
        """A Case; ``status="Closed"`` makes it closed (``IsClosed``), any other status open."""
        fields = {"ContactId": contact_id, "AccountId": account_id, "Status": status, "Subject": "Support request"}
        return self.insert("Case", fields)

    def add_persona(self, *, provider: str, external_id: str, parent_id: str, name: str, **fields: Any) -> str:
        """A SocialPersona of ``provider`` (``Twitter``, ``Facebook``...) under a Contact, Lead or Account."""
        values = {"Provider": provider, "ExternalId": external_id, "ParentId": parent_id, "Name": name}
        return self.insert("SocialPersona", {**values, **fields})

    def record(self, record_id: str) -> Record | None:
        """A copy of any record (deleted ones included), or None."""
        with self._state:
            found = self._find(normal_id(record_id), deleted=True)
            return dict(found[1]) if found else None

    def records(self, sobject: str, *, include_deleted: bool = False) -> list[Record]:
        """Copies of an object's records, in creation order."""
        with self._state:
            return [dict(r) for r in self.tables[sobject].values() if include_deleted or not r["IsDeleted"]]

    def reset(self, *, access_token: str | None = DEFAULT_TOKEN) -> None:
        """Back to an empty org (users kept), for a simulator shared by several tests."""
        with self._state:
            for name, table in self.tables.items():
                if name != "User":
                    table.clear()
            self.org.sessions = {access_token} if access_token else set()
            self.social_enabled, self._usage, self.page_size = True, [0, 100_000], self._initial_page_size
            self._cursors.clear()
        self.clear_faults()
        self.reset_calls()

    # -- knobs -------------------------------------------------------------------------------------------------

    def expire_sessions(self) -> None:
        """Every session dies: the next REST call answers 401 ``INVALID_SESSION_ID`` until a new login."""
        with self._state:
            self.org.sessions.clear()

    def api_usage(self, used: int, limit: int) -> None:
        """Set the org's daily API usage, as ``Sforce-Limit-Info`` will report it (before the next call)."""
        with self._state:
            self._usage = [used, limit]

    @property
    def usage(self) -> tuple[int, int]:
        """(used, limit) of the org's daily API requests."""
        return self._usage[0], self._usage[1]

    # -- internals ---------------------------------------------------------------------------------------------

    def _new_id(self, schema: SObject) -> str:
        return id18(f"{schema.prefix}D{next(self._counters[schema.prefix]):011d}")

    def _visible(self, sobject: str) -> bool:
        return self.social_enabled or sobject not in SOCIAL_OBJECTS

    def _find(self, record_id: str, *, deleted: bool = False) -> tuple[str, Record] | None:
        for name, table in self.tables.items():
            record = table.get(record_id)
            if record is not None and (deleted or not record["IsDeleted"]) and self._visible(name):
                return name, record
        return None

    def _kind_of(self, record_id: str) -> str | None:
        found = self._find(record_id)
        return found[0] if found else None

    # -- HTTP --------------------------------------------------------------------------------------------------

    def _routes(self) -> None:
        app, data = self.app, "/services/data/<version>"
        app.before_request(self._edge)
        app.after_request(self._limit_header)
        app.register_error_handler(ApiError, lambda e: json_response(e.body, e.status))
        app.register_error_handler(
            SoqlError, lambda e: json_response([{"message": e.message, "errorCode": e.code}], 400)
        )
        for status in (404, 405):
            app.register_error_handler(status, lambda e: json_response(not_found().body, 404))
        app.add_url_rule("/services/data/", "versions", self._versions, methods=["GET"])
        app.add_url_rule(f"{data}/query/", "query", self._query, methods=["GET"], defaults={"all_rows": False})
        app.add_url_rule(f"{data}/queryAll/", "queryAll", self._query, methods=["GET"], defaults={"all_rows": True})
        app.add_url_rule(f"{data}/query/<locator>", "more", self._more, methods=["GET"])
        app.add_url_rule(f"{data}/queryAll/<locator>", "moreAll", self._more, methods=["GET"])
        app.add_url_rule(f"{data}/sobjects/<sobject>/", "create", self._create, methods=["POST"])
        app.add_url_rule(f"{data}/sobjects/<sobject>/<record_id>", "one", self._one, methods=["GET", "PATCH", "DELETE"])
        app.add_url_rule(
            f"{data}/sobjects/<sobject>/<key>/<path:value>", "by_key", self._by_key, methods=["GET", "PATCH"]
        )
        app.add_url_rule("/services/Soap/u/<version>", "soap", self._soap_login, methods=["POST"])
        app.add_url_rule("/services/oauth2/token", "token", self._token, methods=["POST"])
        app.add_url_rule("/services/oauth2/userinfo", "userinfo", self._userinfo, methods=["GET"])
        for rule in app.url_map.iter_rules():
            rule.strict_slashes = False

    def _edge(self) -> Response | None:
        """Authentication and API limits, for the REST API and userinfo (logins are free)."""
        path = request.path
        if not (path.startswith("/services/data/v") or path == "/services/oauth2/userinfo"):
            return None
        if path.startswith("/services/data/") and not VERSION.fullmatch(path.split("/")[3]):
            return json_response(not_found().body, 404)
        if not self.org.valid(request.headers.get("Authorization", "")):
            return json_response(auth.INVALID_SESSION, 401)
        with self._state:
            if path.startswith("/services/data/v"):
                if self._usage[0] >= self._usage[1]:
                    return json_response(LIMIT_EXCEEDED, 403)
                self._usage[0] += 1
        return None

    def _limit_header(self, response: Response) -> Response:
        if request.path.startswith("/services/data/v"):
            response.headers["Sforce-Limit-Info"] = f"api-usage={self._usage[0]}/{self._usage[1]}"
        return response

    def _versions(self) -> Response:
        versions = [("Spring '23", "57.0"), ("Summer '23", "58.0"), ("Winter '24", "59.0"), ("Spring '24", "60.0")]
        return json_response([{"label": lbl, "url": f"/services/data/v{v}", "version": v} for lbl, v in versions])

    def _query(self, version: str, all_rows: bool) -> Response:
        soql = request.args.get("q")
        if not soql:
            raise error(400, "MALFORMED_QUERY", "A query string has to be specified")
        with self._state:
            rows = self.engine.run(soql, include_deleted=all_rows, version=_number(version))
            return json_response(self._page(rows, version, "queryAll" if all_rows else "query", 0))

    def _more(self, version: str, locator: str) -> Response:
        cursor, _, offset = locator.rpartition("-")
        with self._state:
            if cursor not in self._cursors or not offset.isdigit():
                raise error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
            rows, endpoint = self._cursors[cursor]
            return json_response(self._page(rows, version, endpoint, int(offset), cursor))

    def _page(self, rows: list[Record], version: str, endpoint: str, start: int, cursor: str = "") -> Record:
        size = self._batch_size()
        page = rows[start : start + size]
        result: Record = {"totalSize": len(rows), "done": start + size >= len(rows)}
        if not result["done"]:
            cursor = cursor or self._open_cursor(rows, endpoint)
            result["nextRecordsUrl"] = f"/services/data/{version}/{endpoint}/{cursor}-{start + size}"
        result["records"] = page
        return result

    def _batch_size(self) -> int:
        options = request.headers.get("Sforce-Query-Options", "")
        wanted = next(
            (p.split("=", 1)[1] for p in options.replace(" ", "").split(",") if p.startswith("batchSize=")), ""
        )
        size = min(max(int(wanted), MIN_BATCH), MAX_BATCH) if wanted.isdigit() else MAX_BATCH
        return min(size, self.page_size)

    def _open_cursor(self, rows: list[Record], endpoint: str) -> str:
        cursor = id18("01g" + secrets.token_hex(6).upper())
        self._cursors[cursor] = (rows, endpoint)
        while len(self._cursors) > KEPT_CURSORS:
            self._cursors.popitem(last=False)
        return cursor

    def _schema_of(self, sobject: str) -> SObject:
        schema = next((o for n, o in self.schema.items() if n.lower() == sobject.lower()), None)
        if schema is None or not self._visible(schema.name):
            raise not_found()
        return schema

    def _create(self, version: str, sobject: str) -> Response:
        schema = self._schema_of(sobject)
        with self._state:
            values = validated(schema, parse_body(request.get_data()), creating=True, find=self._kind_of)
            record_id = self.insert(schema.name, values)
        return json_response({"id": record_id, "success": True, "errors": []}, 201)

    def _one(self, version: str, sobject: str, record_id: str) -> Response:
        schema = self._schema_of(sobject)
        with self._state:
            found = self._find(normal_id(record_id)) if looks_like_id(record_id) else None
            if found is None or found[0] != schema.name:
                raise not_found()
            if request.method == "GET":
                return json_response(self._full(schema, found[1], version))
            if request.method == "DELETE":
                self.delete(schema.name, found[1]["Id"])
                return Response(status=204)
            values = validated(schema, parse_body(request.get_data()), creating=False, find=self._kind_of)
            self.update(schema.name, found[1]["Id"], values)
        return Response(status=204)

    def _by_key(self, version: str, sobject: str, key: str, value: str) -> Response:
        schema = self._schema_of(sobject)
        field = schema.field(key)
        if field is None or field not in schema.id_lookup:
            raise not_found()  # upsert_wrong_external_id_field.error.json
        with self._state:
            matches = [r for r in self.tables[schema.name].values() if not r["IsDeleted"] and r.get(field) == value]
            if len(matches) > 1:
                urls = [f"/services/data/{version}/sobjects/{schema.name}/{r['Id']}" for r in matches]
                return json_response(urls, 300)
            if request.method == "GET":
                if not matches:
                    raise not_found()
                return json_response(self._full(schema, matches[0], version))
            return self._upsert(schema, field, value, matches, version)

    def _upsert(self, schema: SObject, field: str, value: str, matches: list[Record], version: str) -> Response:
        body = parse_body(request.get_data())
        values = validated(schema, body, creating=not matches, find=self._kind_of)
        if matches:
            self.update(schema.name, matches[0]["Id"], values)
            if _number(version) < "46.0":
                return Response(status=204)
            return json_response({"id": matches[0]["Id"], "success": True, "errors": [], "created": False}, 200)
        record_id = self.insert(schema.name, {**values, field: value})
        return json_response({"id": record_id, "success": True, "errors": [], "created": True}, 201)

    def _full(self, schema: SObject, record: Record, version: str) -> Record:
        attributes = {"type": schema.name, "url": f"/services/data/{version}/sobjects/{schema.name}/{record['Id']}"}
        return {"attributes": attributes, **record}

    def _soap_login(self, version: str) -> Response:
        return auth.soap_login(self.org, request.get_data(), version)

    def _token(self) -> Response:
        audiences = ["https://login.salesforce.com", "https://test.salesforce.com", self.instance_url]
        return auth.jwt_token(self.org, request.form.to_dict(), audiences)

    def _userinfo(self) -> Response:
        user = self.tables["User"][self.org.user_id]
        return json_response(auth.userinfo(self.org, user["Name"], user["Email"]))


def _number(version: str) -> str:
    """``v59.0`` → ``59.0`` (zero-padded for comparisons: ``46.0`` < ``59.0``)."""
    return version.removeprefix("v").rjust(4, "0")


def _derived(sobject: str, record: Record, tables: Mapping[str, Mapping[str, Record]]) -> Record:
    """Fields Salesforce computes: a person's Name, a Case's IsClosed and CaseNumber."""
    if sobject in ("Contact", "Lead", "User") and (record.get("LastName") or record.get("FirstName")):
        record["Name"] = " ".join(p for p in (record.get("FirstName"), record.get("LastName")) if p)
    if sobject == "Case":
        record["IsClosed"] = record.get("Status") in CLOSED_CASE_STATUSES
        record["CaseNumber"] = record.get("CaseNumber") or f"{1000 + len(tables['Case']) + 1:08d}"
    return record

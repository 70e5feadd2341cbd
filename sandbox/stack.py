"""A whole running bridge on loopback: simulators, the web app on a real socket, and a worker.

Used by the demo, the end-to-end tests and the benchmarks, so that all three exercise exactly what
an operator runs: the config is parsed like ``socialdesk.toml``, connectors are built by the registry,
webhooks arrive over HTTP and the worker is the Huey consumer plus the dispatcher.
"""

from __future__ import annotations

import atexit
import functools
import json
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from bridge import config as config_module
from bridge.queue import Queue, Worker, make_huey
from bridge.registry import Runtime, build_runtime
from bridge.store import Store
from sandbox.base import QuietHandler, shutdown
from sandbox.freshdesk import FreshdeskSimulator
from sandbox.generic import OwnChannelSimulator
from sandbox.meta import MetaSimulator
from sandbox.salesforce import SalesforceSimulator
from sandbox.salesforce.simulator import DEFAULT_TOKEN as SALESFORCE_TOKEN
from sandbox.telegram import TelegramSimulator
from sandbox.x import XSimulator
from sandbox.zendesk import ZendeskSimulator
from webhooks.app import create_app

PAGE_ID = "104729384756120"
PAGE_TOKEN = "sandbox-page-token"
APP_SECRET = "sandbox-app-secret"
VERIFY_TOKEN = "sandbox-verify-token"
ZENDESK_EMAIL = "bridge@acme.example"
ZENDESK_TOKEN = "sandbox-zendesk-token"
ZENDESK_SECRET = "sandbox-zendesk-signing-secret"
FRESHDESK_KEY = "sandbox-freshdesk-key"
FRESHDESK_SECRET = "sandbox-freshdesk-webhook-secret"
HELPDESKS = ("zendesk", "freshdesk")
DISPATCH_INTERVAL = 0.02  # seconds: see Stack's ``dispatch_interval``
IG_ID, IG_TOKEN = "17841400000000042", "sandbox-instagram-token"
WA_PHONE_ID, WA_TOKEN = "106540352242922", "sandbox-whatsapp-token"
X_USER, X_SECRET = "1500000000000000042", "sandbox-x-consumer-secret"
TG_TOKEN, TG_SECRET = "7001:sandbox-telegram-token", "sandbox-telegram-secret"
WEB_SECRET = "sandbox-own-channel-secret"
PLATFORMS = ("facebook", "instagram", "whatsapp", "x", "telegram", "generic")


class Stack:
    """``with Stack(tmp) as s: s.meta.customer_message(...); s.wait_for(lambda: s.zendesk.tickets)``."""

    def __init__(
        self,
        workdir: Path,
        *,
        helpdesk: str = "zendesk",
        database_url: str | None = None,
        queue_url: str | None = None,
        concurrency: int = 2,
        start_worker: bool = True,
        grace: float | None = None,
        bridge_options: dict[str, Any] | None = None,
        channel_options: dict[str, Any] | None = None,
        salesforce: dict[str, Any] | None = None,
        platforms: tuple[str, ...] = ("facebook",),
        zendesk: dict[str, Any] | None = None,
        freshdesk: dict[str, Any] | None = None,
        rules: list[dict[str, Any]] | None = None,
        calendars: dict[str, Any] | None = None,
        platform_options: dict[str, dict[str, Any]] | None = None,
        approvals: dict[str, Any] | None = None,
        dashboard: dict[str, Any] | None = None,
        dispatch_interval: float = DISPATCH_INTERVAL,
    ) -> None:
        """``zendesk={...}``: options of the Zendesk simulator (``rate_limit_per_minute``, ``data_imports``...);
        ``freshdesk={...}``: the Freshdesk simulator's (``api_agent_ticket_scope``...);
        ``rules``: the ``[[rules]]`` tables; ``calendars``: the ``[calendars.<name>]`` tables;
        ``platform_options``: more keys for one platform's channel only (after ``channel_options``);
        ``dashboard``: the ``[dashboard]`` table (its credential turns ``/dashboard`` on);
        ``dispatch_interval``: how often the in-process worker looks for due rows (a tenth of the production's
        0.2 s, so a test or the demo does not wait out that poll at every step)."""
        self.workdir = workdir.absolute()  # the config it writes names its files wherever it is read
        self._sqlite_file = None if database_url else self.workdir / "socialdesk.db"  # the default: a fresh file
        self.database_url = database_url or f"sqlite:///{self._sqlite_file}"
        self.queue_url = queue_url or f"sqlite:///{self.workdir}/socialdesk-queue.db"
        self.concurrency = concurrency
        self.dispatch_interval = dispatch_interval
        self.start_worker = start_worker
        self.grace = grace
        self.bridge_options = bridge_options or {}
        self.channel_options = channel_options or {}
        #: ``salesforce={...}`` runs the Salesforce simulator too; the dict adds ``[salesforce]`` options
        self.salesforce_options = salesforce
        self.rules = rules or []
        self.calendars = calendars or {}
        self.platform_options = platform_options or {}
        self.approvals = approvals  # the [approvals] table
        self.dashboard = dashboard
        self.salesforce = SalesforceSimulator() if salesforce is not None else None
        self.helpdesk_name = helpdesk
        self._zendesk_options, self._freshdesk_options = zendesk or {}, freshdesk or {}
        #: the simulator of the helpdesk in use: both play the agent with the same methods
        self.helpdesk: ZendeskSimulator | FreshdeskSimulator = self.zendesk if helpdesk == "zendesk" else self.freshdesk
        self.platforms = platforms
        self.meta = MetaSimulator(
            APP_SECRET,
            {PAGE_ID: PAGE_TOKEN},
            page_names={PAGE_ID: "Acme Coffee"},
            instagram={IG_ID: IG_TOKEN},
            whatsapp={WA_PHONE_ID: WA_TOKEN},
        )
        self.x = XSimulator(consumer_key="sandbox-ck", consumer_secret=X_SECRET, access_token=f"{X_USER}-sandbox-at",
                            access_token_secret="sandbox-ats", user_id=X_USER)  # fmt: skip
        self.telegram = TelegramSimulator(bot_token=TG_TOKEN, secret_token=TG_SECRET)
        self.web = OwnChannelSimulator(secret=WEB_SECRET)
        self._server: BaseWSGIServer | None = None
        self.worker: Worker | None = None
        self.runtime: Runtime | None = None

    @functools.cached_property
    def zendesk(self) -> ZendeskSimulator:
        """Made when first asked for (the helpdesk in use at once): building its routes takes some 50 ms, and
        the other helpdesk's simulator is rarely looked at."""
        return ZendeskSimulator(
            email=ZENDESK_EMAIL, api_token=ZENDESK_TOKEN, webhook_secret=ZENDESK_SECRET, **self._zendesk_options
        )

    @functools.cached_property
    def freshdesk(self) -> FreshdeskSimulator:
        """Made when first asked for, as :attr:`zendesk` is."""
        return FreshdeskSimulator(api_key=FRESHDESK_KEY, webhook_secret=FRESHDESK_SECRET, **self._freshdesk_options)

    def raw_config(self) -> dict[str, Any]:
        return {
            "bridge": {
                "database_url": self.database_url,
                "queue_url": self.queue_url,
                "helpdesk": self.helpdesk_name,
                **self.bridge_options,
            },
            **self._helpdesk_section(),
            **self._salesforce_section(),
            "channels": [
                {**self._channel(p), **self.channel_options, **self.platform_options.get(p, {})} for p in self.platforms
            ],
            **({"rules": self.rules} if self.rules else {}),
            **({"calendars": self.calendars} if self.calendars else {}),
            **({"approvals": self.approvals} if self.approvals is not None else {}),
            **({"dashboard": self.dashboard} if self.dashboard else {}),
        }

    def _channel(self, platform: str) -> dict[str, Any]:
        meta = {"app_secret": APP_SECRET, "verify_token": VERIFY_TOKEN, "api_url": f"{self.meta.url}/v21.0"}
        return {
            "facebook": {"account_id": PAGE_ID, "access_token": PAGE_TOKEN, **meta},
            "instagram": {"account_id": IG_ID, "access_token": IG_TOKEN, **meta},
            "whatsapp": {"account_id": WA_PHONE_ID, "access_token": WA_TOKEN, **meta},
            "x": {
                "account_id": X_USER,
                "consumer_key": self.x.consumer_key,
                "consumer_secret": X_SECRET,
                "access_token": self.x.access_token,
                "access_token_secret": self.x.access_token_secret,
                "api_url": self.x.url,
            },
            "telegram": {"bot_token": TG_TOKEN, "secret_token": TG_SECRET, "api_url": self.telegram.url},
            "generic": {"secret": WEB_SECRET, "callback_url": self.web.callback_url},
        }[platform] | {"name": channel_name(platform), "platform": platform}

    def _helpdesk_section(self) -> dict[str, Any]:
        if self.helpdesk_name == "freshdesk":
            return {
                "freshdesk": {
                    "url": self.freshdesk.url,
                    "api_key": FRESHDESK_KEY,
                    "webhook_secret": FRESHDESK_SECRET,
                    **({"thread_key_field": key} if (key := self.freshdesk.thread_key_field) else {}),
                }
            }
        return {
            "zendesk": {
                "url": self.zendesk.url,
                "email": ZENDESK_EMAIL,
                "api_token": ZENDESK_TOKEN,
                "webhook_secret": ZENDESK_SECRET,
            }
        }

    def _salesforce_section(self) -> dict[str, Any]:
        if self.salesforce is None:
            return {}
        options = {"instance_url": self.salesforce.url, "access_token": SALESFORCE_TOKEN}
        return {"salesforce": {**options, **(self.salesforce_options or {})}}

    def write_config(self, path: Path) -> Path:
        """The running stack's configuration as a ``socialdesk.toml`` (for ``socialdesk worker`` processes)."""
        path.write_text(to_toml(self.raw_config()), encoding="utf-8")
        return path

    def start(self) -> Stack:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.helpdesk.start()
        for simulator in (self.meta, self.x, self.telegram, self.web):
            simulator.start()
        if self.salesforce is not None:
            self.salesforce.start()
        self.config = config_module.parse(self.raw_config(), env={}, source="sandbox")
        self.store = self._open_store()
        app = create_app(self.config, store=self.store)
        self._server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=QuietHandler)
        threading.Thread(target=self._server.serve_forever, args=(0.05,), name="bridge-web", daemon=True).start()
        self.meta.webhook_target = f"{self.url}/webhooks/meta"
        self.x.webhook_target = f"{self.url}/webhooks/x"
        self.telegram.webhook_target = f"{self.url}/webhooks/telegram/acme-telegram"
        self.web.webhook_target = f"{self.url}/webhooks/generic/acme-web"
        self.helpdesk.webhook_target = f"{self.url}/webhooks/{self.helpdesk_name}"
        if self.start_worker:
            self.start_worker_now()
        return self

    def _open_store(self) -> Store:
        """The store, migrated as ``socialdesk db upgrade`` would. The default SQLite file starts as a copy of
        one migrated once per process: the same schema, without running every migration for each stack."""
        if self._sqlite_file is not None and not self._sqlite_file.exists():
            shutil.copyfile(migrated_sqlite(), self._sqlite_file)
        return Store.from_url(self.database_url, migrate=True)

    def start_worker_now(self) -> Worker:
        self.runtime = build_runtime(self.config, store=self.store)
        runtime = self.runtime
        queue = Queue(make_huey(self.queue_url), lambda: runtime)
        self.worker = Worker(
            runtime, queue, concurrency=self.concurrency, grace=self.grace, dispatch_interval=self.dispatch_interval
        )
        self.worker.start()
        return self.worker

    def stop_worker(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None

    def stop(self) -> None:
        self.stop_worker()
        if self._server is not None:
            shutdown(self._server)
        for simulator in (self.meta, self.x, self.telegram, self.web):
            simulator.stop()
        self.helpdesk.stop()
        if self.salesforce is not None:
            self.salesforce.stop()
        self.store.close()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    @property
    def url(self) -> str:
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.server_port}"

    def idle(self) -> bool:
        """Nothing pending in the store."""
        return not any(self.store.counts(t).get("pending") for t in ("inbox", "ticket_events"))

    @staticmethod
    def wait_for(predicate: Callable[[], Any], timeout: float = 30.0, interval: float = 0.01) -> Any:
        """Poll until ``predicate()`` is truthy and return it; raise TimeoutError otherwise."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(interval)
        raise TimeoutError(f"condition not met within {timeout}s")


@functools.cache
def migrated_sqlite() -> Path:
    """An SQLite store migrated to the head revision, made once per process and removed at its exit."""
    folder = Path(tempfile.mkdtemp(prefix="socialdesk-schema-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    path = folder / "socialdesk.db"
    Store.from_url(f"sqlite:///{path}", migrate=True).close()
    return path


def channel_name(platform: str) -> str:
    """The sandbox's channel for a platform: acme-facebook, acme-x, ... and acme-web for the own channel."""
    return f"acme-{'web' if platform == 'generic' else platform}"


def to_toml(raw: dict[str, Any]) -> str:
    """A small TOML writer for the flat tables and arrays of tables a socialdesk config uses."""
    lines: list[str] = []
    for key, value in raw.items():
        tables = value if isinstance(value, list) else [value]
        for table in tables:
            lines.append(f"[[{key}]]" if isinstance(value, list) else f"[{key}]")
            lines.extend(f"{k} = {_toml_value(v)}" for k, v in table.items() if v is not None)
            lines.append("")
    return "\n".join(lines)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):  # an inline table ([[rules]]' when and then)
        return "{" + ", ".join(f"{json.dumps(str(k))} = {_toml_value(v)}" for k, v in value.items()) + "}"
    return json.dumps(str(value))

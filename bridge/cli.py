"""``socialdesk``: serve, worker, demo, status, dead-letters, replay, classify.

The CLI is the edge where configuration is read; everything below it receives it. The web app and
the demo are loaded by dotted path, so ``bridge`` keeps importing neither Flask nor a vendor SDK.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from bridge import config as config_module
from bridge import enrich_fields, logs, messages
from bridge.classify.plugins import ClassifierSettings, build_classifier
from bridge.errors import BridgeError, ConfigError, LeaseBusy
from bridge.registry import Runtime, build_helpdesk, build_runtime, load_object
from bridge.tablekeys import BadKey, check_crm_field

if TYPE_CHECKING:
    from bridge.store import Store

log = logging.getLogger("socialdesk")

#: The exit status of a refusal for the configuration's sake (sysexits.h's EX_CONFIG): starting again changes
#: nothing until someone edits it, so a service manager must not restart in a loop (systemd's
#: ``RestartPreventExitStatus=78``). Every other failure exits 1, an outage too: a restart may cure it.
EX_CONFIG = 78


class ConfigRefused(click.ClickException):
    """The configuration is wrong (a file that cannot be read, a bad or missing key, a name or field the helpdesk
    lacks, an API user the worker's start refuses): one line on stderr, exit status :data:`EX_CONFIG`."""

    exit_code = EX_CONFIG


def _config(path: str | None) -> config_module.Config:
    try:
        loaded = config_module.load(path)
    except BridgeError as e:
        raise ConfigRefused(f"configuration: {e.message}") from None
    logs.use_pseudonyms(loaded)  # status, dead-letters and report name customers as the logs of serve and worker do
    return loaded


def _store(cfg: config_module.Config) -> Store:
    """The configured store, refused in one line naming `socialdesk db upgrade` when its schema is not this
    release's, as ``serve``, ``worker`` and ``doctor`` refuse it. The embedded store migrates itself here; at scale
    the other commands said "ProgrammingError: ... relation "inbox" does not exist", and ``setup zendesk`` only
    after it had changed the helpdesk's webhooks (their secrets then had nowhere to go)."""
    from bridge.store import Store

    store = Store.from_url(cfg.database_url)
    store.require_current()
    return store


dry_run_option = click.option("--dry-run", is_flag=True, help="print what would change, change nothing")
#: Counts and ports are checked as they are parsed, so a bad one is a usage error at once: ``--workers 0`` and
#: ``--concurrency 0`` started a process that said "ready" and did nothing; ``--port 99999`` failed 8 s later, in bind.
AT_LEAST_ONE = click.IntRange(min=1)
PORT = click.IntRange(1, 65535)
config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="socialdesk.toml (default: $SOCIALDESK_CONFIG, then ./socialdesk.toml)",
)


class _Commands(click.Group):
    """Every command's failure ends it with one line on stderr and exit status 1, never a traceback: a
    :class:`BridgeError` (the database down, a refused credential) says what went wrong; anything else is named
    by its type and first line (the traceback goes to the log at DEBUG). A :class:`ConfigError` (a bad setting,
    a missing driver, a rule's name the helpdesk lacks) exits with :data:`EX_CONFIG` instead."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except ConfigError as e:
            raise ConfigRefused(str(e)) from None
        except BridgeError as e:
            raise click.ClickException(str(e)) from None
        except BrokenPipeError:  # `socialdesk status | head`: the reader has what it wanted
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # nor fail again flushing at exit
            raise click.exceptions.Exit(1) from None
        except Exception as e:
            log.debug("the command failed", exc_info=True)
            first = (str(e).strip().splitlines() or [""])[0][:300]
            raise click.ClickException(f"{type(e).__name__}: {first}" if first else type(e).__name__) from None


@click.group(cls=_Commands)
@click.version_option(package_name="socialdesk", prog_name="socialdesk")
def main() -> None:
    """socialdesk: social conversations as helpdesk tickets, agent replies back to the thread."""


@main.command()
@config_option
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=PORT)
@click.option("--workers", default=2, show_default=True, type=AT_LEAST_ONE, help="gunicorn worker processes")
@click.option(
    "--threads",
    default=None,
    type=AT_LEAST_ONE,
    help="request threads per worker process (gthread) instead of gevent's: only behind a proxy that buffers "
    "whole requests, since a slow client holds a thread",
)
def serve(config_path: str | None, host: str, port: int, workers: int, threads: int | None) -> None:
    """Receive webhooks (gunicorn running webhooks.app:create_app).

    By default each worker process is gevent's: a connection waits for its request in a greenlet, so
    clients that send slowly (1 byte a second) hold nothing another webhook needs. Sync or threaded
    workers are held by each of them (a valid webhook waited 40 s, then 20, behind four). Concurrent
    webhooks of a process still share a commit (bridge.groupcommit)."""
    cfg = _config(config_path)
    if threads is None:
        _cooperative()  # first: the app's modules import psycopg
    logs.setup(cfg)
    run = load_object("webhooks.serve:run", "serve")
    _require_drivers(cfg)  # first: a missing driver is the cause to fix, whatever holds the port
    load_object("webhooks.serve:preflight", "serve")(host, port, threads)
    _prepare_store(cfg)  # create the SQLite schema once, before the web workers fork; check it at scale
    from bridge import metrics

    own = not os.environ.get(metrics.MULTIPROC_ENV)
    series = metrics.prepare_multiprocess(host, port)  # before the fork: every web process writes there
    mode = f"{threads} thread(s)" if threads else "gevent"
    log.info("serve ready: store %s, %s, %d worker(s), %s, metrics in %s", logs.masked_url(cfg.database_url),
             _channels(cfg), workers, mode, series)  # fmt: skip
    with metrics.removed_at_exit(series if own else None):
        run(cfg, host=host, port=port, workers=workers, threads=threads)


def _cooperative() -> None:
    """gevent's monkey patching, before the store or the app is loaded: psycopg then chooses its
    cooperative wait, so a PostgreSQL round trip of one webhook does not hold up the others. The web
    process makes no TLS call (no platform or helpdesk is called in a webhook request), so the warning
    that ssl was imported before the patch (by requests, for the CLI's other commands) is silenced."""
    import warnings

    from gevent import monkey

    warnings.filterwarnings("ignore", category=monkey.MonkeyPatchWarning)
    monkey.patch_all()


def _require_drivers(cfg: config_module.Config) -> None:
    """Serve does not use the queue, but a scale install must have its driver, and an SQLite queue its folder
    (the worker refuses it: serve started with it, and the webhooks' events waited for a worker that could not)."""
    from bridge import drivers
    from bridge.store import require_sqlite_folder

    drivers.require(cfg.database_url, "database_url")
    drivers.require(cfg.queue_url, "queue_url")
    if cfg.queue_url.startswith("sqlite:///"):
        require_sqlite_folder(cfg.queue_url.removeprefix("sqlite:///"), "queue_url", "queue")


def _prepare_store(cfg: config_module.Config) -> None:
    _store(cfg)  # SQLite migrates itself; at scale: `db upgrade` first


def _channels(cfg: config_module.Config) -> str:
    names = ", ".join(f"{c.name} ({c.platform})" for c in cfg.channels)
    return f"{len(cfg.channels)} channel(s)" + (f": {names}" if names else "")


@main.command()
@config_option
@click.option("--concurrency", default=4, show_default=True, type=AT_LEAST_ONE, help="worker threads")
@click.option("--metrics-port", type=PORT, default=None, help="serve this worker's /metrics here")
@click.option("--metrics-host", default="127.0.0.1", show_default=True, help="address of --metrics-port")
def worker(config_path: str | None, concurrency: int, metrics_port: int | None, metrics_host: str) -> None:
    """Process stored events and deliver agent replies (Huey consumer plus dispatcher)."""
    from bridge.queue import Queue, Worker, make_huey, waiting

    cfg = _config(config_path)
    logs.setup(cfg)
    runtime = build_runtime(cfg)
    runtime.store.require_current()
    _start_checks(runtime)
    queue = Queue(make_huey(cfg.queue_url), lambda: runtime)
    waiting(queue.huey)
    if metrics_port is not None:
        from bridge import metrics

        metrics.serve_worker(runtime.store, host=metrics_host, port=metrics_port)
        log.info("worker metrics: http://%s:%d/metrics", metrics_host, metrics_port)
    log.info("worker ready: queue %s, store %s, %s, concurrency %d", logs.masked_url(cfg.queue_url),
             logs.masked_url(cfg.database_url), _channels(cfg), concurrency)  # fmt: skip
    Worker(runtime, queue, concurrency=concurrency).run()


def _start_checks(runtime: Runtime) -> None:
    """The helpdesk's user and fields, then the rules' names: a refusal in one line, several problems joined by
    '; ' (systemd's journal, where a worker's stderr goes, makes each line an entry of its own, the first alone
    saying "Error:"; ``rules check`` and ``doctor`` print one line each). Each is the configuration's to fix (the
    credentials, the API user's access, a field or name), exit status :data:`EX_CONFIG`: a restart will not."""
    try:
        _check_helpdesk(runtime)
        _prepare_rules(runtime)
    except BridgeError as e:
        raise ConfigRefused("; ".join(str(e).splitlines())) from None


def _check_helpdesk(runtime: Runtime) -> None:
    """The helpdesk's API user must see every ticket: the worker looks a thread's ticket up as that user (crash
    recovery, a reopen), and one hidden from it could be taken for deleted and opened again, a duplicate. Refused
    here in one line, as ``doctor`` and ``setup`` refuse it (the helpdesk's ``ping``). The helpdesk unreachable
    for a moment does not stop the start: the worker's work waits for it anyway, and ``doctor`` checks the user.
    Then the ticket fields every write carries, as ``doctor`` checks them: a missing one stops the start too,
    naming the config key (Freshdesk refuses each write with it, a dead letter; Zendesk drops its value silently)."""
    try:
        runtime.helpdesk.ping()
        log.info("ticket fields: %s", enrich_fields.check_writes(runtime.config, runtime.helpdesk))
    except BridgeError as e:
        if not e.retryable:
            raise
        log.warning("%s: the API user and ticket fields not checked yet (%s); `socialdesk doctor` checks them",
                    runtime.helpdesk.name, e)  # fmt: skip


def _prepare_rules(runtime: Runtime) -> None:
    """Look the rules' names up now: an unknown group stops the worker here. The helpdesk unreachable for a
    moment does not: the first message that needs the names looks them up (and waits like any outage)."""
    try:
        log.info("rules: %s", runtime.triage.prepare(runtime.helpdesk))
        if runtime.approvers.settings.agents or runtime.approvers.settings.approvers:
            log.info("approvals: %s", runtime.approvers.prepare(runtime.helpdesk))
    except BridgeError as e:
        if not e.retryable:
            raise
        log.warning("rules: names not looked up yet (%s); the first message that needs them will", e)


@main.command()
@click.option("--workdir", type=click.Path(file_okay=False), default=None, help="keep the demo's files here")
@click.option("--verbose", is_flag=True, help="show the bridge's log")
@click.option("--helpdesk", type=click.Choice(["zendesk", "freshdesk"]), default="zendesk", show_default=True)
def demo(workdir: str | None, verbose: bool, helpdesk: str) -> None:
    """Run the whole loop against the built-in simulators and show what happened."""
    run = load_object("sandbox.demo:run", "demo")
    ok = run(workdir=Path(workdir) if workdir else None, verbose=verbose, echo=click.echo, helpdesk=helpdesk)
    if not ok:
        raise SystemExit(1)


@main.command()
@config_option
@click.option("--json", "as_json", is_flag=True, help="one JSON object, for scripts and monitoring")
@click.option(
    "--max-lag",
    type=click.FloatRange(min=0),
    default=None,
    help="exit with status 1 when a message or reply has waited longer than this many seconds",
)
def status(config_path: str | None, as_json: bool, max_lag: float | None) -> None:
    """Is it keeping up: work by state, the oldest waiting, retries, rate-limit pauses, dead letters."""
    import json

    from bridge import status as status_module

    cfg = _config(config_path)
    report = status_module.report(cfg, _store(cfg))
    click.echo(json.dumps(report) if as_json else "\n".join(status_module.render(report)))
    late = status_module.behind(report, max_lag) if max_lag is not None else []
    for line in late:
        click.echo(f"behind: {line}", err=True)
    if late:
        raise SystemExit(1)


@main.command()
@config_option
@click.option("--older-than", "days", type=float, default=None, help="days; default: [bridge] retention_days")
@dry_run_option
def prune(config_path: str | None, days: float | None, dry_run: bool) -> None:
    """Forget finished work older than N days (the worker does it nightly with [bridge] retention_days).

    Empties the text of finished messages, drops finished ticket notices and replayed dead letters. Keeps
    pending work, open dead letters, threads, deliveries, identities and the CRM cache."""
    from bridge import retention
    from bridge.leases import Leases

    cfg = _config(config_path)
    try:
        chosen = cfg.retention_days if days is None else config_module.retention_days(days, "--older-than")
    except BridgeError as e:
        raise click.UsageError(e.message) from None
    if chosen is None:
        raise click.UsageError("say how old: --older-than DAYS, or set [bridge] retention_days")
    store = _store(cfg)
    try:
        counts = retention.prune(store, Leases(store, ttl=120), chosen, dry_run=dry_run)
    except LeaseBusy:
        raise click.ClickException("another prune is running (a worker's nightly one?): try again later") from None
    click.echo(("would forget, " if dry_run else "forgot, ") + retention.summary(counts, chosen))


@main.command()
@config_option
@click.option("--month", "month_text", required=True, help="YYYY-MM, e.g. 2026-11")
@click.option("--channel", default=None, help="one configured channel (default: all)")
@click.option("--tz", "tz_name", default="UTC", show_default=True, help="the time zone of the month's dates (IANA)")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False),
    help="folder for report.html, figures.json and episodes.csv",
)
def report(config_path: str | None, month_text: str, channel: str | None, tz_name: str, out: str) -> None:
    """One month's service figures: report.html (offline, one file), figures.json and episodes.csv (one row per
    episode)."""
    from bridge import report as report_module

    cfg = _config(config_path)
    store = _store(cfg)
    try:
        written = report_module.monthly(cfg, store, month_text=month_text, channel=channel,
                                        tz_name=tz_name, out=Path(out), now=datetime.now(UTC))  # fmt: skip
    except report_module.OptionError as e:
        raise click.ClickException(str(e)) from None
    except OSError as e:  # it was 'FileNotFoundError: [Errno 2] ...': the option the user gave, and why
        raise click.ClickException(f"--out {out}: cannot write the report there ({e.strerror})") from None
    for path in written:
        click.echo(f"wrote {path}")


@main.group()
def db() -> None:
    """Database schema (Alembic migrations)."""


@db.command("upgrade")
@config_option
@click.option("--revision", default="head", show_default=True)
def db_upgrade(config_path: str | None, revision: str) -> None:
    """Apply migrations. Automatic for the embedded SQLite store; run once per release at scale."""
    from bridge.store import Store

    store = Store.from_url(_config(config_path).database_url, migrate=False)
    store.upgrade(revision)
    click.echo(f"schema at revision {store.revision()}")


@main.command("dead-letters")
@config_option
@click.option("--reveal", is_flag=True, help="show each thread key as stored (a WhatsApp key holds a phone number)")
def dead_letters(config_path: str | None, reveal: bool) -> None:
    """List work that failed for good, with the reason.

    A thread is named as the logs name it (a WhatsApp customer by pseudonym), so the listing can be pasted where
    the logs go and matched with their lines; ``--reveal`` gives the stored key, to find the conversation."""
    import datetime as dt

    from bridge import messages

    letters = _store(_config(config_path)).open_dead_letters()
    for letter in letters:
        when = dt.datetime.fromtimestamp(letter["created_at"], dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
        key = letter["key"] if reveal else messages.key_shown(letter["key"])
        click.echo(f"{letter['id']:>6}  {when}  {letter['source']}#{letter['source_id']}  {key}")
        click.echo(f"        {letter['error']}")
    click.echo(
        f"{len(letters)} dead letter(s)" + ("; `socialdesk replay ID...` or `--all` re-runs them" if letters else "")
    )


@main.command()
@config_option
@click.argument("ids", nargs=-1, type=int)
@click.option("--all", "replay_all", is_flag=True, help="replay every open dead letter")
def replay(config_path: str | None, ids: tuple[int, ...], replay_all: bool) -> None:
    """Re-run dead-lettered work (the worker picks it up within a second).

    Known and unknown ids together: the known ones are queued and said, the unknown named, exit status 1 (as
    ``rm`` removes what it can): a typo must not look like success, nor hold back the letters named right."""
    if not ids and not replay_all:
        raise click.UsageError("name dead-letter IDs, or pass --all")
    replayed = _store(_config(config_path)).replay(None if replay_all else list(ids))
    missing = [] if replay_all else sorted(set(ids) - set(replayed))
    if replayed or not missing:  # the ids that did replay are said even when others are unknown (exit 1)
        click.echo(f"{len(replayed)} dead letter(s) queued again")
    if missing:
        raise click.ClickException(
            f"no open dead letter {', '.join(map(str, missing))} (`socialdesk dead-letters` lists them)"
        )


@main.command("sync-contacts")
@config_option
@dry_run_option
@click.option("--full", is_flag=True, help="start from the beginning instead of the saved cursor")
def sync_contacts(config_path: str | None, dry_run: bool, full: bool) -> None:
    """Salesforce Contacts → helpdesk users (incremental; resumes where it stopped)."""
    from bridge.sync import sync_contacts as run_sync

    cfg = _config(config_path)
    logs.setup(cfg)
    runtime = build_runtime(cfg)
    runtime.store.require_current()  # as the worker does: the cursor and identities are kept in the store
    if sys.stdout.isatty():
        with click.progressbar(length=0, label="contacts", show_pos=True, show_eta=False) as bar:
            summary = run_sync(runtime, dry_run=dry_run, full=full, progress=bar.update)
    else:
        done = [0]

        def line(n: int) -> None:
            done[0] += n
            click.echo(f"sync-contacts: {done[0]} contacts read")

        summary = run_sync(runtime, dry_run=dry_run, full=full, progress=line)
    if dry_run:
        on_delete = str(cfg.salesforce.get("on_delete")) if cfg.salesforce else "ignore"
        click.echo(messages.sync_dry_run(summary.would_send, summary.would_delete, runtime.helpdesk.name, on_delete))
        return
    click.echo(
        f"created {summary.created}, updated {summary.updated}, "
        f"skipped {summary.skipped} (already handled, or deleted with no helpdesk user), "
        f"deleted handled {summary.deleted}, failed {len(summary.failed)}"
    )
    for external_id, reason in summary.failed[:50]:
        click.echo(f"  failed {external_id}: {reason}")
    if summary.failed:
        raise SystemExit(1)


@main.group()
def setup() -> None:
    """Point the helpdesk (or Telegram) at this bridge."""


PUBLIC_URL_HELP = "https address of this bridge (default: bridge.public_url)"


def _public_url(ctx: click.Context, param: click.Parameter, value: str | None) -> str | None:
    """Checked as ``bridge.public_url`` is: 'ftp://x' was accepted and set as the helpdesk's webhook address."""
    if value is not None and not config_module.is_http_url(value):
        raise click.BadParameter(f"{value!r} is not an http(s) URL")
    return value


public_url_option = click.option("--public-url", default=None, callback=_public_url, help=PUBLIC_URL_HELP)
dry_run_option = click.option("--dry-run", is_flag=True, help="print what would change, change nothing")


@setup.command("zendesk")
@config_option
@public_url_option
@dry_run_option
def setup_zendesk(config_path: str | None, public_url: str | None, dry_run: bool) -> None:
    """Create or update the webhook, two triggers and the approval macros (idempotent: re-running changes nothing)."""
    from bridge import setup as setup_module

    cfg = _config(config_path)
    store = _store(cfg)  # first: the webhooks' secrets are stored there once Zendesk has made them
    setup_module.setup_zendesk(cfg, store, echo=click.echo, dry_run=dry_run, public_url=public_url)


@setup.command("freshdesk")
@config_option
@public_url_option
def setup_freshdesk(config_path: str | None, public_url: str | None) -> None:
    """Check the API key (one call to Freshdesk: its agent must see every ticket), then print the automation rule
    to create (Freshdesk has no API for it)."""
    from bridge import setup as setup_module

    cfg = _config(config_path)
    setup_module.setup_freshdesk(cfg, echo=click.echo, public_url=public_url)


@setup.command("telegram")
@config_option
@public_url_option
@dry_run_option
def setup_telegram(config_path: str | None, public_url: str | None, dry_run: bool) -> None:
    """Call setWebhook for every Telegram channel, with its secret token."""
    from bridge import setup as setup_module

    cfg = _config(config_path)
    setup_module.setup_telegram(cfg, echo=click.echo, dry_run=dry_run, public_url=public_url)


@main.command()
@config_option
def doctor(config_path: str | None) -> None:
    """Check config, credentials, database, queue and webhooks; exit non-zero on any ✗."""
    from bridge.doctor import run_checks

    checks = run_checks(_config(config_path))
    for check in checks:
        for line in check.detail.splitlines() or [""]:  # a check finding several problems: one line each
            click.echo(f"{check.mark} {check.what}: {line}")
    if not all(c.ok for c in checks):
        raise SystemExit(1)


@main.command()
@config_option
@click.option("--file", "source", type=click.File("rb"), default=None, help="read the texts from FILE (UTF-8)")
@click.argument("texts", nargs=-1)
def classify(config_path: str | None, source: Any, texts: tuple[str, ...]) -> None:
    """Classify texts given as arguments, else one per line from stdin (or --file): one JSON object per text.

    Uses the [classifier] of the configuration when there is one, else the default classifier. A line that is
    not UTF-8 is still answered (its stray bytes read as U+FFFD), so line N of the output is line N of the
    input; one line on stderr then names the first such line and the exit status is 1."""
    if texts and source is not None:
        raise click.UsageError("give texts as arguments or --file, not both")
    classifier = build_classifier(_classifier_settings(config_path))
    if texts:  # `socialdesk classify "text"`, as `rules explain` takes it: it was "unexpected extra argument"
        for text in texts:
            click.echo(json.dumps(classifier.classify(text).to_json(), ensure_ascii=False))
        return
    if source is None:
        source = _stdin()
        if sys.stdin.isatty():  # else a new user waits for an answer that needs their input
            click.echo("reading texts from stdin, one per line (end with Ctrl-D)", err=True)
    not_utf8: list[int] = []
    for number, raw in enumerate(source, start=1):
        text = _decoded(raw.rstrip(b"\r\n"), number, not_utf8)
        click.echo(json.dumps(classifier.classify(text).to_json(), ensure_ascii=False))
    if not_utf8:
        raise click.ClickException(messages.not_utf8_lines(len(not_utf8), not_utf8[0]))


def _stdin() -> Any:
    """The texts' stream when neither arguments nor --file give them. Python sets ``sys.stdin`` to None when
    file descriptor 0 is closed (``socialdesk classify <&-``): it was an AttributeError on ``.buffer``."""
    if sys.stdin is None:
        raise click.ClickException("stdin is closed: give the texts as arguments, with --file FILE, or on stdin")
    return sys.stdin.buffer


def _decoded(raw: bytes, number: int, not_utf8: list[int]) -> str:
    """One input line as text (a byte-order mark on the first one dropped); ``number`` noted if it is not UTF-8.
    Decoding line by line: a file read as text fails on its first bad byte, losing the lines before it."""
    codec = "utf-8-sig" if number == 1 else "utf-8"
    try:
        return raw.decode(codec)
    except UnicodeDecodeError:
        not_utf8.append(number)
        return raw.decode(codec, errors="replace")


def _classifier_settings(path: str | None) -> ClassifierSettings:
    """The configured classifier; without any configuration file, the default one."""
    if path is None and not config_module.default_path().exists():
        return ClassifierSettings()
    return _config(path).classifier


@main.group()
def rules() -> None:
    """The triage rules ([[rules]]): check them, or see what they decide about a text."""


@rules.command("check")
@config_option
@click.option("--offline", is_flag=True, help="check the file only; do not look names up in the helpdesk")
def rules_check(config_path: str | None, offline: bool) -> None:
    """Validate the rules (and that the helpdesk knows their groups, assignees, brands) without starting."""
    from bridge.routing import Triage

    cfg = _config(config_path)
    if offline:
        click.echo(f"{len(cfg.rules)} rule(s) valid (names not looked up: --offline)")
        return
    click.echo(Triage(cfg.rules).prepare(build_helpdesk(cfg)))


class _Moment(click.ParamType[datetime, str]):
    """A date and time with its UTC offset: without one, 23:00 is another moment on each machine and the
    calendar's answer would depend on where the command runs. Its error says what to write, not strptime's
    formats."""

    name = "datetime"
    formats = ("%Y-%m-%dT%H:%M%z", "%Y-%m-%dT%H:%M:%S%z")

    def convert(self, value: str, param: click.Parameter | None, ctx: click.Context | None) -> datetime:
        for fmt in self.formats:
            try:
                return datetime.strptime(value, fmt)
            except ValueError:
                continue
        self.fail(messages.moment_expected(value), param, ctx)


_MOMENT = _Moment()


@rules.command("explain")
@config_option
@click.option("--channel", required=True, help="the [[channels]] name the text arrives on")
@click.option("--follow-up", is_flag=True, help="a follow-up in a thread that has a ticket (default: a first message)")
@click.option("--private", is_flag=True, help="a private message (default: a public comment)")
@click.option("--attachments", type=click.IntRange(min=0), default=0, help="how many files the message carries")
@click.option("--crm", "crm_fields", multiple=True, metavar="FIELD=VALUE", help="the author's CRM record (repeat)")
@click.option("--vip", is_flag=True, help="the CRM record is a VIP's")
@click.option("--post", default=None, help="the id of the post the comment is under (rules' post condition)")
@click.option("--author", "authors", multiple=True, metavar="ID", help="the author's platform id or handle (repeat)")
@click.option("--at", "at", type=_MOMENT, default=None,
              help="when it was posted, with its offset (2026-12-11T23:00+01:00; default: now)")  # fmt: skip
@click.argument("text")
def rules_explain(
    config_path: str | None,
    channel: str,
    follow_up: bool,
    private: bool,
    attachments: int,
    crm_fields: tuple[str, ...],
    vip: bool,
    post: str | None,
    authors: tuple[str, ...],
    at: datetime | None,
    text: str,
) -> None:
    """Print each rule's verdict on TEXT and the decision (no helpdesk call: names are shown as written)."""
    from bridge.rules import CrmFacts, EventFacts
    from bridge.triage import explain_lines

    cfg = _config(config_path)
    chosen = cfg.channel(channel)
    if chosen is None:
        raise click.UsageError(f"--channel: {messages.unknown_channel(channel, [c.name for c in cfg.channels])}")
    fields = dict(_pair(f) for f in crm_fields)
    crm = CrmFacts(True, fields, vip=vip) if fields or vip else None
    author = tuple(a.casefold().lstrip("@") for a in authors)
    event = EventFacts(channel, chosen.platform, text, public=not private, attachments=attachments, post=post,
                       author=author)  # fmt: skip
    classification = build_classifier(cfg.classifier).classify(text)
    hours = _inside_hours(cfg, channel, at or datetime.now(UTC))
    lines = explain_lines(cfg.rules, event, first=not follow_up, crm=crm, classification=classification,
                          inside_hours=hours)  # fmt: skip
    for line in lines:
        click.echo(line)


def _inside_hours(cfg: config_module.Config, channel: str, at: datetime) -> bool | None:
    """The channel's calendar at ``at`` (a helpdesk schedule from the store's copy; None when unknown)."""
    from bridge import schedules
    from bridge.calendars import Unknown

    chosen = cfg.channel(channel)
    name = chosen.get("calendar") if chosen is not None else None
    if name is None:
        return True
    calendar = cfg.calendars[name]
    copy = schedules.stored(_store(cfg)) if calendar.from_helpdesk else schedules.Copy((), None)
    resolved = schedules.resolve(calendar, copy)
    return None if isinstance(resolved, Unknown) else resolved.is_open(at)


def _pair(value: str) -> tuple[str, str]:
    key, sep, found = value.partition("=")
    if not sep or not key.strip():
        raise click.UsageError(f"--crm {value!r}: write FIELD=VALUE")
    try:  # a field the CRM's record never has would explain a decision no message can get
        check_crm_field(key.strip(), f"--crm {key.strip()}")
    except BadKey as e:
        raise click.UsageError(f"{e.key}: {e.message}") from None
    return key.strip(), found.strip()


if __name__ == "__main__":
    main()

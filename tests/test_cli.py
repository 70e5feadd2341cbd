"""The commands as an operator runs them: real processes, real sockets."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner

from bridge.cli import EX_CONFIG, main
from bridge.store import Store
from sandbox.stack import to_toml
from tests.conftest import APP_SECRET, PAGE_ID, VERIFY_TOKEN, ZD_TOKEN, fixture_bytes, raw_config
from tests.support import closed_port, socialdesk, start, stop, wait_until_up
from webhooks.signatures import sign_meta


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_runs_the_whole_loop_and_says_so() -> None:
    result = socialdesk("demo")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "All good: 19/19 checks" in result.stdout
    assert "✗" not in result.stdout
    assert "✓ the away reply went once, with the promise and the ticket number" in result.stdout
    assert "✓ service figures: 10 episodes, 8 answered by a person" in result.stdout
    assert "/dashboard" in result.stdout and "Facebook badge estimate, acme-facebook" in result.stdout
    assert "✓ the reply under the crisis post waited for approval, then went out once" in result.stdout
    assert "✓ Salesforce: the known customer's message lands on their synced user, the CRM fields" in result.stdout
    # the routed conversation and its explanation (issue 15)
    assert "✓ the angry message became an urgent ticket in Escalations, and its note says" in result.stdout
    assert "\n      rule escalate-angry: " in result.stdout
    assert "✓ a quick answer with buttons, the hand-off to a person, both noted on the ticket" in result.stdout


def test_the_demo_runs_again_in_its_folder(tmp_path: Path) -> None:
    """A second demo in the same folder started on the first one's store, whose identities named users of the
    previous simulator: every ticket refused 422 ("invalid requester"), then a TimeoutError and no summary. A store
    changed after the demo ended is no longer the demo's: refused, kept."""
    kept = tmp_path / "demo"
    for _ in range(2):
        result = socialdesk("demo", "--workdir", str(kept))
        assert result.returncode == 0, result.stdout + result.stderr
        assert "All good: 19/19 checks" in result.stdout and "✗" not in result.stdout
    store = kept / "socialdesk.db"  # then a bridge served from the demo's configuration writes to its store
    with store.open("ab") as written:
        written.write(b"\0")
    line = one_line_failure(socialdesk("demo", "--workdir", str(kept)))
    assert line == (f"Error: --workdir {kept}: its socialdesk.db changed after the demo ended (a bridge ran on it?), "
                    "so it is not the demo's to replace: give --workdir a new or empty folder")  # fmt: skip
    assert store.exists()


def test_the_demo_leaves_a_store_it_did_not_make_alone(tmp_path: Path) -> None:
    """A folder with a ``socialdesk.db`` no demo made (a real bridge's) is refused in one line, and kept as it was."""
    (tmp_path / "socialdesk.db").write_bytes(b"a real store")
    (tmp_path / "notes.txt").write_text("mine")
    line = one_line_failure(socialdesk("demo", "--workdir", str(tmp_path)))
    assert line == (f"Error: --workdir {tmp_path}: it holds socialdesk.db but no socialdesk-demo.txt, so it may not "
                    "be a demo's: give --workdir a new or empty folder")  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt", "socialdesk.db"]
    assert (tmp_path / "socialdesk.db").read_bytes() == b"a real store"


@pytest.mark.parametrize(
    ("args", "range_"),
    [(("serve", "--workers", "0"), "x>=1"), (("serve", "--port", "99999"), "1<=x<=65535"),
     (("serve", "--port", "0"), "1<=x<=65535"), (("serve", "--threads", "0"), "x>=1"),
     (("worker", "--concurrency", "0"), "x>=1"), (("worker", "--concurrency", "-2"), "x>=1"),
     (("worker", "--metrics-port", "70000"), "1<=x<=65535")],
)  # fmt: skip
def test_a_count_or_port_out_of_range_is_a_usage_error_at_once(
    tmp_path: Path, args: tuple[str, ...], range_: str
) -> None:
    """``serve --workers 0`` and ``worker --concurrency 0`` said "ready" and did nothing; ``serve --port 99999``
    failed 8 s later in bind(). Now refused as they are parsed, before the configuration is even read."""
    result = CliRunner().invoke(main, [*args, "--config", str(tmp_path / "missing.toml")])
    assert result.exit_code == 2, result.output
    option, value = args[1:]
    assert (
        result.stderr.splitlines()[-1] == f"Error: Invalid value for '{option}': {value} is not in the range {range_}."
    )


def test_the_demo_writes_through_no_link_in_its_folder(tmp_path: Path) -> None:
    """A marker or a store that is a symbolic link is refused before anything is written: the demo wrote its
    marker through a link (replacing the file it pointed to, outside the folder), and a dangling link named like
    its configuration counted as absent, so the demo would have created the link's target."""
    outside = tmp_path / "precious.txt"
    outside.write_text("mine")
    for name in ("socialdesk-demo.txt", "socialdesk.toml"):
        folder = tmp_path / name.replace(".", "-")
        folder.mkdir()
        (folder / name).symlink_to(outside if name.endswith(".txt") else tmp_path / "made-by-the-demo")
        one_line_failure(socialdesk("demo", "--workdir", str(folder)))
        assert outside.read_text() == "mine" and not (tmp_path / "made-by-the-demo").exists()
        assert [p.name for p in folder.iterdir()] == [name]


def test_bad_config_stops_at_start_naming_the_key_without_the_secret(tmp_path: Path) -> None:
    raw = raw_config()
    raw["channels"][0].pop("app_secret")
    path = tmp_path / "socialdesk.toml"
    path.write_text(to_toml(raw))
    for command in ("worker", "serve"):
        result = socialdesk(command, "--config", str(path))
        assert result.returncode == EX_CONFIG  # systemd's RestartPreventExitStatus: no restart loop on it
        assert "channels[acme-facebook].app_secret: required" in result.stderr
        assert ZD_TOKEN not in result.stderr + result.stdout
        assert "Traceback" not in result.stderr


def test_missing_config_file_is_explained(tmp_path: Path) -> None:
    result = socialdesk("worker", env={"SOCIALDESK_CONFIG": str(tmp_path / "missing.toml")})
    assert result.returncode == EX_CONFIG and "missing.toml not found" in result.stderr


def test_the_config_exit_status_is_sysexits_and_the_readmes_systemd_unit_names_it() -> None:
    """78 is EX_CONFIG of sysexits.h, which the README's unit keeps systemd from restarting on: a refusal for
    the configuration ended with 1, as an outage does, and `Restart=on-failure` started it again every few
    seconds, for ever, each start a journal entry."""
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    assert EX_CONFIG == os.EX_CONFIG == 78
    assert f"\nRestartPreventExitStatus={EX_CONFIG}\n" in readme and "\nRestart=on-failure\n" in readme


def test_serve_runs_gunicorn_and_stores_a_signed_webhook(tmp_path: Path) -> None:
    """Also: its access log leaves query strings out, since Meta's handshake carries the verify token."""
    database = f"sqlite:///{tmp_path}/store.db"
    path = tmp_path / "socialdesk.toml"
    path.write_text(to_toml(raw_config(database_url=database, queue_url=f"sqlite:///{tmp_path}/q.db")))
    port, log = free_port(), tmp_path / "serve.log"
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "-m", "bridge.cli", "serve", "--config", str(path), "--port",
                                   str(port), "--workers", "2"], stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)  # fmt: skip
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except requests.ConnectionError:
                time.sleep(0.2)
        body = fixture_bytes("meta/meta_messenger_text.json").replace(b"<PAGE_ID>", PAGE_ID.encode())
        body = body.replace(b"<PSID>", b"1234")
        headers = {"X-Hub-Signature-256": sign_meta(body, APP_SECRET), "Content-Type": "application/json"}
        response = requests.post(f"{base}/webhooks/meta", data=body, headers=headers, timeout=10)
        assert response.status_code == 200 and response.json()["stored"] == 1
        forged = requests.post(f"{base}/webhooks/meta", data=body, headers={**headers, "X-Hub-Signature-256": "x"},
                               timeout=10)  # fmt: skip
        assert forged.status_code == 401 and forged.json() == {"error": "invalid signature"}
        handshake = {"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN, "hub.challenge": "1158201444"}
        assert requests.get(f"{base}/webhooks/meta", params=handshake, timeout=10).text == "1158201444"
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    [row] = Store.from_url(database).rows("inbox")
    assert json.loads(row["payload"])["text"] == "hello, world!"
    logged = log.read_text()
    assert "GET /webhooks/meta HTTP/1.1" in logged and VERIFY_TOKEN not in logged


# -- one line, never a traceback ------------------------------------------------------------------------------


def write_config(tmp_path: Path, name: str, **bridge: str) -> str:
    raw = raw_config(database_url=f"sqlite:///{tmp_path}/store.db", queue_url=f"sqlite:///{tmp_path}/queue.db")
    raw["bridge"].update(bridge)
    path = tmp_path / name
    path.write_text(to_toml(raw))
    return str(path)


LOG_RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING) [\w.]+: ")


def one_line_failure(result: subprocess.CompletedProcess[str], status: int = 1) -> str:
    """The command failed with exit ``status`` (1; :data:`EX_CONFIG` for a refusal of the configuration) and
    said why in one line on stderr (besides the log's own records, a start's 'database schema migrated'); that
    line is returned."""
    assert result.returncode == status, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr + result.stdout, result.stderr
    lines = [line for line in result.stderr.strip().splitlines() if not LOG_RECORD.match(line)]
    assert len(lines) == 1, result.stderr
    return lines[0]


COMMANDS = [
    ("status",), ("dead-letters",), ("db", "upgrade"), ("sync-contacts",), ("replay", "5"),
    ("setup", "zendesk", "--dry-run"), ("prune", "--older-than", "30"), ("worker",), ("serve", "--port", "1"),
]  # fmt: skip


def run_all(commands: list[tuple[str, ...]], config: str) -> list[subprocess.CompletedProcess[str]]:
    with ThreadPoolExecutor(max_workers=4) as pool:  # each is its own process, as an operator runs it
        return list(pool.map(lambda command: socialdesk(*command, "--config", config), commands))


def test_a_postgres_url_is_one_line_from_every_command(tmp_path: Path) -> None:
    """Before: a 44-line traceback ending in NoSuchModuleError; the password was not in it, and still is not."""
    config = write_config(tmp_path, "pg.toml", database_url="postgres://bridge:pg-s3cret@db.internal/socialdesk")
    for result in run_all(COMMANDS, config):
        line = one_line_failure(result, EX_CONFIG)
        assert line.startswith("Error: configuration: bridge.database_url: "), line  # refused at load
        assert "PostgreSQL is postgresql://" in line, line
        assert "pg-s3cret" not in line


def test_an_unreachable_database_is_one_line_from_every_command(tmp_path: Path) -> None:
    """Before: `db upgrade`, `serve` and `worker` printed the OperationalError's traceback."""
    url = f"postgresql+psycopg://bridge:pg-s3cret@127.0.0.1:{closed_port()}/socialdesk"
    config = write_config(tmp_path, "down.toml", database_url=url)
    needing_the_store_first = [c for c in COMMANDS if c[0] not in ("sync-contacts", "setup")]
    for result in run_all(needing_the_store_first, config):
        line = one_line_failure(result)
        assert line.startswith("Error: store: the database is unavailable (connection failed"), line
        assert "pg-s3cret" not in line


def test_a_bad_log_level_is_one_line_from_serve_and_worker(tmp_path: Path) -> None:
    """Before: ValueError: Unknown level: 'LOUD', with its traceback."""
    config = write_config(tmp_path, "level.toml", log_level="LOUD")
    for result in run_all([("worker",), ("serve", "--port", "1"), ("sync-contacts",)], config):
        assert "bridge.log_level: 'LOUD' is not one of DEBUG, INFO" in one_line_failure(result, EX_CONFIG)


def test_setup_zendesk_says_which_host_failed_and_why(tmp_path: Path) -> None:
    """Before: 'zendesk: connection failed', nothing on where or why."""
    port = closed_port()
    raw = raw_config(zendesk_url=f"http://127.0.0.1:{port}", database_url=f"sqlite:///{tmp_path}/store.db")
    raw["bridge"]["public_url"] = "https://bridge.acme.example"
    path = tmp_path / "socialdesk.toml"
    path.write_text(to_toml(raw))
    line = one_line_failure(socialdesk("setup", "zendesk", "--dry-run", "--config", str(path)))
    assert line == f"Error: zendesk: connection to 127.0.0.1:{port} failed (connection refused)"


def test_replaying_an_id_that_is_no_dead_letter_names_it(tmp_path: Path) -> None:
    """Before: '0 dead letter(s) queued again' and exit status 0: a typo in an id looked like success; then
    the error after that line. Now the error only; with a known id too, the known one is queued and said."""
    config = write_config(tmp_path, "socialdesk.toml")
    Store.from_url(f"sqlite:///{tmp_path}/store.db").dead_letter("inbox", [1], key="k", error="gone")
    unknown = socialdesk("replay", "5", "7", "--config", config)
    assert one_line_failure(unknown) == "Error: no open dead letter 5, 7 (`socialdesk dead-letters` lists them)"
    assert unknown.stdout == ""
    mixed = socialdesk("replay", "1", "7", "--config", config)
    assert one_line_failure(mixed) == "Error: no open dead letter 7 (`socialdesk dead-letters` lists them)"
    assert mixed.stdout == "1 dead letter(s) queued again\n"
    assert Store.from_url(f"sqlite:///{tmp_path}/store.db").open_dead_letters() == []


def test_setup_telegram_without_a_telegram_channel_says_so(tmp_path: Path) -> None:
    """Before: nothing printed, exit status 0."""
    config = write_config(tmp_path, "socialdesk.toml", public_url="https://bridge.acme.example")
    line = one_line_failure(socialdesk("setup", "telegram", "--config", config), EX_CONFIG)
    assert line.startswith("Error: no Telegram channel in ") and 'platform = "telegram"' in line


def test_version() -> None:
    result = socialdesk("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"socialdesk, version {version('socialdesk')}"


# -- what an operator sees at start -------------------------------------------------------------------------


def json_lines_until(log: Path, process: subprocess.Popen[bytes], wanted: str) -> list[dict[str, str]]:
    """Every line the process wrote, each one JSON object, up to the first whose message holds ``wanted``."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        lines = [json.loads(line) for line in log.read_text().splitlines()]
        if any(wanted in line["message"] for line in lines):
            return lines
        assert process.poll() is None, log.read_text()
        time.sleep(0.1)
    raise AssertionError(f"no {wanted!r} in {log.read_text()}")


def test_worker_says_it_is_ready_in_one_json_line_without_secrets_or_alembic(tmp_path: Path, redis_url: str) -> None:
    """Before: a fresh store printed Alembic's INFO lines ('Context impl SQLiteImpl.'...), the worker said
    nothing once ready, and there was no JSON format (log shippers read one object per line)."""
    # a Redis database of this test's own (not the fixture's 15): this worker must take no other test's task
    queue = redis_url.replace("redis://", "redis://:q-s3cret@").rsplit("/", 1)[0] + "/13"
    config = write_config(tmp_path, "socialdesk.toml", queue_url=queue)
    log = tmp_path / "worker.log"
    worker = start(["worker", "--config", config, "--concurrency", "3"], log, {"SOCIALDESK_LOG_FORMAT": "json"})
    try:
        lines = json_lines_until(log, worker, "worker ready")
    finally:
        stop(worker)
    assert all(set(line) >= {"time", "level", "logger", "message"} for line in lines)
    assert not [line for line in lines if line["logger"].startswith("alembic")]
    assert any(line["message"].startswith("database schema migrated from revision none to ") for line in lines)
    [ready] = [line["message"] for line in lines if "worker ready" in line["message"]]
    assert f"queue {queue.replace('q-s3cret', '***')}" in ready
    assert f"store sqlite:///{tmp_path}/store.db" in ready and "1 channel(s): acme-facebook (facebook)" in ready
    assert "concurrency 3" in ready and "q-s3cret" not in log.read_text()


def test_a_worker_without_its_queue_stops_at_once_in_one_line(tmp_path: Path) -> None:
    """Before: it started, then Huey logged a traceback every second while Redis could not be reached."""
    config = write_config(tmp_path, "socialdesk.toml", queue_url=f"redis://:q-s3cret@127.0.0.1:{closed_port()}/0")
    line = one_line_failure(socialdesk("worker", "--config", config, timeout=60))
    assert line.startswith("Error: queue: the queue is unavailable (") and "refused" in line
    assert "q-s3cret" not in line


def control_sockets(folder: Path) -> set[str]:
    return {p.name for p in folder.glob("*.ctl") if p.is_socket()}


def test_serve_on_an_address_in_use_is_one_line_and_never_says_ready(tmp_path: Path) -> None:
    """Before: 'serve ready', then gunicorn's two ERROR lines a second for five seconds ('Connection in use'),
    then exit status 1."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = socialdesk("serve", "--config", write_config(tmp_path, "socialdesk.toml"), "--port", str(port))
    assert one_line_failure(result) == f"Error: serve: cannot listen on 127.0.0.1:{port} (Address already in use)"
    assert "serve ready" not in result.stderr


def test_two_servers_on_one_host_keep_their_own_control_sockets_and_one_log_format(tmp_path: Path) -> None:
    """Before: both took gunicorn's one per-user path (~/.gunicorn/gunicorn.ctl): the second replaced the
    first's socket, and stopping either deleted the one left. Their logs, gunicorn's included, are the
    bridge's JSON lines, as the worker's are."""
    config = write_config(tmp_path, "socialdesk.toml")
    runtime = tmp_path / "run"
    runtime.mkdir()
    env = {"XDG_RUNTIME_DIR": str(runtime), "HOME": str(tmp_path), "SOCIALDESK_LOG_FORMAT": "json"}
    ports = [free_port(), free_port()]
    logs = [tmp_path / f"serve-{port}.log" for port in ports]
    servers = [start(["serve", "--config", config, "--port", str(port), "--workers", "1"], log, env)
               for port, log in zip(ports, logs, strict=True)]  # fmt: skip
    try:
        for port, log, server in zip(ports, logs, servers, strict=True):
            json_lines_until(log, server, f"Control socket listening at {runtime}/socialdesk-127.0.0.1-{port}.ctl")
            assert requests.get(f"http://127.0.0.1:{port}/readyz", timeout=10).status_code == 200
        assert control_sockets(runtime) == {f"socialdesk-127.0.0.1-{port}.ctl" for port in ports}
        stop(servers[0])
        assert control_sockets(runtime) == {f"socialdesk-127.0.0.1-{ports[1]}.ctl"}
        lines = json_lines_until(logs[1], servers[1], "GET /readyz HTTP/1.1")
        assert {"gunicorn.error", "gunicorn.access", "socialdesk"} <= {line["logger"] for line in lines}
    finally:
        for server in servers:
            stop(server)


def test_ctrl_c_stops_serve_as_cleanly_as_sigterm(tmp_path: Path) -> None:
    """Ctrl-C (SIGINT to the process group, the workers included): before, gunicorn's gevent workers printed two
    tracebacks ending 'SystemExit: 0' in 4 stops of 5 (webhooks.gworker). Three stops, each of two workers."""
    config = write_config(tmp_path, "socialdesk.toml")
    for stop_number in range(3):
        port, log = free_port(), tmp_path / f"serve-{stop_number}.log"
        server = start(["serve", "--config", config, "--port", str(port), "--workers", "2"], log, {})
        try:
            logged_twice("Booting worker", server, log)
            wait_until_up(f"http://127.0.0.1:{port}/healthz", server, log)
            os.killpg(server.pid, signal.SIGINT)
            returncode = server.wait(timeout=60)
        finally:
            stop(server)
        logged = log.read_text()
        assert "Handling signal: int" in logged and logged.count("Worker exiting") == 2, logged
        assert returncode in (0, 130) and "Traceback" not in logged and "SystemExit" not in logged, logged


def logged_twice(text: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while log.read_text().count(text) < 2:
        assert process.poll() is None and time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)


def test_a_reader_that_leaves_early_gets_no_error_line(tmp_path: Path) -> None:
    """`socialdesk status | head`: the pipe closes before the report is written."""
    config = tmp_path / "socialdesk.toml"
    config.write_text(
        to_toml(raw_config(database_url=f"sqlite:///{tmp_path}/s.db", queue_url=f"sqlite:///{tmp_path}/q.db"))
    )
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the command writes a line
    with os.fdopen(write, "w") as gone:
        result = subprocess.run([sys.executable, "-m", "bridge.cli", "status", "--config", str(config)], stdout=gone,
                                stderr=subprocess.PIPE, text=True, timeout=90)  # fmt: skip
    assert result.stderr == ""
    assert result.returncode == 1


def test_a_sqlite_file_in_a_missing_folder_is_one_line_naming_the_key_from_every_command(tmp_path: Path) -> None:
    """Before: 'Error: FileNotFoundError: [Errno 2] No such file or directory: '.../x.db.migrate.lock'', the
    store's lock file, naming neither the setting nor the folder."""
    config = write_config(tmp_path, "nodir.toml", database_url=f"sqlite:///{tmp_path}/missing/x.db")
    for result in run_all(COMMANDS, config):
        assert one_line_failure(result, EX_CONFIG) == (
            f"Error: bridge.database_url: cannot create the SQLite database in {tmp_path}/missing "
            "(No such file or directory)"
        ), result.args
    doctor = socialdesk("doctor", "--config", config)  # it said "the database is unavailable (unable to open ...)"
    assert doctor.stdout.splitlines()[1] == (
        f"✗ database: bridge.database_url: cannot create the SQLite database in {tmp_path}/missing "
        "(No such file or directory)"
    )


def test_a_sqlite_queue_in_a_missing_folder_is_refused_as_the_store_is(tmp_path: Path) -> None:
    """Before: the queue made the missing folder (and doctor said ✓) while the store refused its own; serve
    started with it."""
    config = write_config(tmp_path, "nodir.toml", queue_url=f"sqlite:///{tmp_path}/missing/q.db")
    line = f"bridge.queue_url: cannot create the SQLite queue in {tmp_path}/missing (No such file or directory)"
    doctor = socialdesk("doctor", "--config", config)
    assert f"✗ queue: {line}" in doctor.stdout.splitlines()
    assert not (tmp_path / "missing").exists()
    assert one_line_failure(socialdesk("worker", "--config", config, timeout=60), EX_CONFIG) == f"Error: {line}"
    # serve checked the queue's driver only, and started: said before the port (1, which it could not bind)
    serve = socialdesk("serve", "--config", config, "--port", "1", timeout=60)
    assert one_line_failure(serve, EX_CONFIG) == f"Error: {line}"
    assert not (tmp_path / "missing").exists()

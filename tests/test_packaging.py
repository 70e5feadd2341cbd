"""What an install brings and needs: scale mode's drivers only with the ``scale`` extra, and what an
operator sees when a URL asks for one that is missing (real processes, the drivers made unimportable)."""

from __future__ import annotations

import ast
import importlib.metadata
import re
import socket
import subprocess
import sys
import time
import tomllib
from pathlib import Path

import pytest
import requests
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from bridge.cli import EX_CONFIG
from bridge.store import Store, head_revision
from sandbox.stack import to_toml
from tests.conftest import raw_config
from tests.support import closed_port, socialdesk

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
PROJECT = PYPROJECT["project"]
SCALE_HINT = "pip install 'socialdesk[scale]'"
# Run by the child interpreter at start: `import psycopg` / `import redis` then raise ImportError, as they do
# when the package is not installed (a None entry in sys.modules halts the import).
BLOCKER = "import sys\n\nfor name in ('psycopg', 'redis'):\n    sys.modules[name] = None\n"


@pytest.fixture
def without_drivers(tmp_path: Path) -> dict[str, str]:
    """The environment of a process that has neither psycopg nor redis: a sitecustomize that blocks them."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(BLOCKER)
    return {"PYTHONPATH": str(site)}


def config_file(tmp_path: Path, **bridge: str) -> str:
    path = tmp_path / "socialdesk.toml"
    defaults = {"database_url": f"sqlite:///{tmp_path}/s.db", "queue_url": f"sqlite:///{tmp_path}/q.db"}
    path.write_text(to_toml(raw_config(**{**defaults, **bridge})))
    return str(path)


def test_the_blocker_makes_the_drivers_unimportable(without_drivers: dict[str, str]) -> None:
    """Else the tests below would prove nothing: this environment has both drivers installed."""
    for name in ("psycopg", "redis"):
        probe = f"import sys\ntry:\n    import {name}\nexcept ImportError:\n    sys.exit(3)\n"
        result = subprocess.run([sys.executable, "-c", probe], env=without_drivers, capture_output=True, timeout=30)
        assert result.returncode == 3, name


@pytest.mark.parametrize("scheme", ["postgresql+psycopg", "postgresql"])
@pytest.mark.parametrize("command", [["status"], ["dead-letters"], ["db", "upgrade"], ["worker"], ["serve"]])
def test_a_postgresql_url_without_psycopg_names_the_extra_in_one_line(
    tmp_path: Path, without_drivers: dict[str, str], scheme: str, command: list[str]
) -> None:
    path = config_file(tmp_path, database_url=f"{scheme}://sd:DbPassw0rd@127.0.0.1:1/sd")
    result = socialdesk(*command, "--config", path, env=without_drivers, timeout=30)
    assert result.returncode == EX_CONFIG, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"Error: bridge.database_url: {scheme}:// needs the psycopg driver, which is not installed: {SCALE_HINT}"
    ]
    assert "DbPassw0rd" not in result.stderr + result.stdout


@pytest.mark.parametrize("command", ["worker", "serve"])
def test_a_redis_url_without_redis_names_the_extra_in_one_line(
    tmp_path: Path, without_drivers: dict[str, str], command: str
) -> None:
    path = config_file(tmp_path, queue_url="redis://:RedisPassw0rd@127.0.0.1:1/0")
    result = socialdesk(command, "--config", path, env=without_drivers, timeout=30)
    assert result.returncode == EX_CONFIG, result.stderr
    assert result.stderr.strip().splitlines() == [
        f"Error: bridge.queue_url: redis:// needs the redis driver, which is not installed: {SCALE_HINT}"
    ]
    assert "RedisPassw0rd" not in result.stderr + result.stdout


def test_serve_names_the_missing_driver_before_a_busy_port(tmp_path: Path, without_drivers: dict[str, str]) -> None:
    """The configuration is the cause to fix first: a port another process holds (a second ``serve``, a demo)
    must not hide it, nor make the tests above depend on which ports this machine has free."""
    path = config_file(tmp_path, database_url="postgresql+psycopg://sd@127.0.0.1:1/sd")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        result = socialdesk("serve", "--config", path, "--port", port, env=without_drivers, timeout=30)
    assert result.returncode == EX_CONFIG, result.stderr
    needs = "postgresql+psycopg:// needs the psycopg driver, which is not installed"
    assert result.stderr.strip().splitlines() == [f"Error: bridge.database_url: {needs}: {SCALE_HINT}"]


def test_a_plain_postgresql_url_uses_psycopg_the_driver_the_extra_installs(pg_url: str) -> None:
    """SQLAlchemy before 2.1 read postgresql:// as psycopg2, which nothing installs (hence sqlalchemy>=2.1)."""
    store = Store.from_url(pg_url.replace("postgresql+psycopg://", "postgresql://", 1), migrate=True)
    try:
        assert store.engine.dialect.driver == "psycopg"
        assert store.revision() == head_revision()
    finally:
        store.close()


def test_doctor_reports_the_missing_driver_as_a_failed_check(tmp_path: Path, without_drivers: dict[str, str]) -> None:
    path = config_file(tmp_path, database_url="postgresql+psycopg://sd@127.0.0.1:1/sd")
    result = socialdesk("doctor", "--config", path, env=without_drivers, timeout=60)
    assert result.returncode == 1
    [database] = [line for line in result.stdout.splitlines() if line.startswith("✗ database: ")]
    assert database.endswith(f"postgresql+psycopg:// needs the psycopg driver, which is not installed: {SCALE_HINT}")


def test_the_demo_runs_on_sqlite_without_either_driver(without_drivers: dict[str, str]) -> None:
    result = socialdesk("demo", env=without_drivers)
    assert result.returncode == 0, result.stdout + result.stderr
    assert re.search(r"^All good: (\d+)/\1 checks", result.stdout, re.MULTILINE), result.stdout


def brought(requirements: list[Requirement]) -> set[str]:
    """The distributions that ``requirements`` install, theirs included, each with the extras asked for."""
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = list(requirements)
    while todo:
        requirement = todo.pop()
        key = (canonicalize_name(requirement.name), frozenset(requirement.extras))
        if key in seen:
            continue
        seen.add(key)
        wanted = {"", *requirement.extras}
        for line in importlib.metadata.requires(requirement.name) or []:
            dependency = Requirement(line)
            if dependency.marker is None or any(dependency.marker.evaluate({"extra": e}) for e in wanted):
                todo.append(dependency)
    return {name for name, _extras in seen}


@pytest.fixture
def plain_install(tmp_path: Path) -> dict[str, str]:
    """The environment of a process that can import only what ``pip install socialdesk`` brings (and pip):
    a sitecustomize blocks the modules of every other distribution installed here (dev tools, drivers)."""
    runtime = brought([Requirement(line) for line in PROJECT["dependencies"]]) | {"pip"}
    others = [module for module, dists in importlib.metadata.packages_distributions().items()
              if not {canonicalize_name(d) for d in dists} & (runtime | {PROJECT["name"]})]  # fmt: skip
    assert {"pytest", "psycopg"} <= set(others), "else the test below would prove nothing"
    site = tmp_path / "site"
    site.mkdir()
    blocker = f"import sys\n\nfor name in {sorted(others)!r}:\n    sys.modules[name] = None\n"
    (site / "sitecustomize.py").write_text(blocker)
    return {"PYTHONPATH": str(site)}


def test_serve_answers_with_only_what_a_plain_install_brings(tmp_path: Path, plain_install: dict[str, str]) -> None:
    """Before: gunicorn's gevent worker imports packaging, which gunicorn requires only in its gevent extra
    and which this project had only in dev: a README install's serve logged 'ready', then failed to boot
    its workers with a traceback, while the test suite (dev installed) passed."""
    port = closed_port()
    command = [sys.executable, "-m", "bridge.cli", "serve", "--config", config_file(tmp_path), "--port", str(port)]
    server = subprocess.Popen(command, env=plain_install, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert ready(f"http://127.0.0.1:{port}/readyz", server), server.communicate(timeout=30)[0]
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_serve_without_a_module_its_workers_need_is_one_line(tmp_path: Path) -> None:
    """Before: 'serve ready', then gunicorn's 'class uri 'gevent' invalid or not found' with a traceback."""
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import sys\n\nsys.modules['packaging'] = None\n")
    result = socialdesk("serve", "--config", config_file(tmp_path), "--port", str(closed_port()),
                        env={"PYTHONPATH": str(site)})  # fmt: skip
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.strip().splitlines() == [
        "Error: serve: gunicorn.workers.ggevent cannot be loaded (No module named 'packaging.version'; "
        "'packaging' is not a package): reinstall socialdesk"
    ]


def ready(url: str, process: subprocess.Popen[str]) -> bool:
    """Whether ``url`` answers 200 within a minute, while ``process`` runs."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        try:
            return requests.get(url, timeout=5).status_code == 200
        except requests.ConnectionError:
            time.sleep(0.2)
    return False


def requirements(extra: str | None = None) -> dict[str, Requirement]:
    """The runtime dependencies, or an extra's, by normalised name."""
    lines = PROJECT["dependencies"] if extra is None else PROJECT["optional-dependencies"][extra]
    return {Requirement(line).name.lower(): Requirement(line) for line in lines}


def test_the_scale_drivers_are_only_in_the_scale_extra_which_dev_pulls_in() -> None:
    drivers = {"psycopg", "redis"}
    assert set(requirements("scale")) == drivers
    assert not drivers & set(requirements()), "a SQLite-only install must not need them"
    for extra in set(PROJECT["optional-dependencies"]) - {"scale"}:
        assert not drivers & set(requirements(extra)), extra
    assert requirements("dev")["socialdesk"].extras == {"scale"}, "the tests run scale mode"


def declared() -> list[Requirement]:
    """Every requirement: runtime, each extra, and the build backend; not the project's own extras."""
    lines = [*PROJECT["dependencies"], *PYPROJECT["build-system"]["requires"]]
    lines += [line for extra in PROJECT["optional-dependencies"].values() for line in extra]
    return [r for r in map(Requirement, lines) if r.name != PROJECT["name"]]


def test_every_dependency_has_an_upper_bound() -> None:
    """A new major release of a dependency (or a new ruff minor: new rules, another format) must not reach
    a fresh install untested; the tested versions themselves are pinned in constraints.txt."""
    unbounded = [str(r) for r in declared() if not any(s.operator in ("<", "<=", "==", "~=") for s in r.specifier)]
    assert unbounded == []


def pins() -> dict[str, str]:
    lines = (ROOT / "constraints.txt").read_text(encoding="utf-8").splitlines()
    pairs = [line.split("==") for line in lines if line and not line.startswith("#")]
    assert all(len(pair) == 2 for pair in pairs), "constraints.txt holds name==version lines only"
    return {canonicalize_name(name): version for name, version in pairs}


def test_the_constraints_ci_installs_pin_every_dependency_within_its_range() -> None:
    """constraints.txt is what a fresh machine gets; stale after a change to pyproject.toml, it says so
    here (refresh: bash scripts/lock.sh)."""
    pinned = pins()
    build = {canonicalize_name(Requirement(r).name) for r in PYPROJECT["build-system"]["requires"]}
    for requirement in declared():
        name = canonicalize_name(requirement.name)
        if name in build:
            continue  # built in an isolated environment, bounded in [build-system]
        assert name in pinned, f"{name} is not in constraints.txt: run bash scripts/lock.sh"
        assert requirement.specifier.contains(pinned[name]), f"{name}=={pinned[name]} is not {requirement}"
    assert PROJECT["name"] not in pinned, "the project itself is installed from the clone"


def test_phone_numbers_come_without_the_geodata_we_do_not_use() -> None:
    """phonenumberslite is phonenumbers (same import name, same API) less ~40 MB of geocoder, carrier and
    time-zone data; connectors.salesforce.queries only parses, checks and formats numbers."""
    runtime = set(requirements())
    assert "phonenumberslite" in runtime
    assert "phonenumbers" not in runtime


TEXT_RULES = ("connectors/xtext.py", "bridge/text.py")


def third_party_imports(path: Path) -> list[str]:
    """The modules ``path`` imports from outside the standard library and this project, as written."""
    first_party = {"bridge", "connectors", "webhooks", "sandbox"}
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.append(node.module)
    return [n for n in names if n.split(".")[0] not in sys.stdlib_module_names | first_party]


@pytest.mark.parametrize("module", TEXT_RULES)
def test_the_text_rules_use_only_the_public_top_level_api_of_declared_dependencies(module: str) -> None:
    """Grapheme clusters and emoji properties come from a maintained package's documented API, not from a
    module inside it (xtext read grapheme's internal property tables: grapheme, last released in 2020)."""
    distributions = importlib.metadata.packages_distributions()
    runtime = set(requirements())
    for name in third_party_imports(ROOT / module):
        assert "." not in name, f"{module} imports {name}, a module inside its package"
        assert {d.lower() for d in distributions[name]} & runtime, f"{name} is not a runtime dependency"

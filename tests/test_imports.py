"""Every module of the project imports first, on its own: an import cycle that works only in one order
(bridge.outbound → inbound → acks → outbound) broke every test and command that happened to start with
another of its modules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bridge", "connectors", "webhooks")

# One interpreter: third-party libraries stay loaded, the project's modules are forgotten before each import.
PROBE = """
import importlib, sys
failed = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m.split(".")[0] in ("bridge", "connectors", "webhooks")]:
        del sys.modules[loaded]
    try:
        importlib.import_module(name)
    except ImportError as e:
        failed.append(f"{name}: {e}")
print("\\n".join(failed))
"""


def modules() -> list[str]:
    found = [p.relative_to(ROOT).with_suffix("") for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py")]
    return sorted(
        ".".join(p.parts[:-1] if p.name == "__init__" else p.parts) for p in found if "migrations" not in p.parts
    )


def probe(names: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", PROBE, *names], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def test_every_module_imports_first() -> None:
    names = modules()
    assert "bridge.outbound" in names and "webhooks.meta" in names
    # Two interpreters, each with every other module, side by side: the test waited 18 s on one core.
    probes = [probe(names[0::2]), probe(names[1::2])]
    try:
        outputs = [process.communicate(timeout=120) for process in probes]
    finally:
        for process in probes:
            process.kill()  # only one still running: a timeout
    for process, (stdout, stderr) in zip(probes, outputs, strict=True):
        assert process.returncode == 0, stderr[-2000:]
        assert stdout.strip() == ""

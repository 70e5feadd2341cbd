"""``socialdesk demo --workdir DIR``: the folder the demo keeps its files in, made ready for a new run.

A second demo in the same folder used to start on the first one's store: its identities named helpdesk users
of the previous run's simulator, which the new simulator does not have, so every ticket was refused 422
("invalid requester"), the messages were dead-lettered and the demo timed out without its summary. Each run
now starts clean: the files a demo made (named by :data:`MARKER`, written before any of them) are removed.
Files of the same names that no demo made (a real bridge's store, say) are never touched: the demo refuses
the folder instead, in one line saying what to do. Nor are a demo's files that something else changed after the
demo ended (a bridge served from the demo's configuration, say): a finished demo seals its marker with each file's
size and modification time (:func:`seal`), and a file that no longer matches is refused as one no demo made.
"""

from __future__ import annotations

import os
from pathlib import Path

from bridge.errors import BridgeError
from sandbox.demo_dashboard import CONFIG_NAME

#: Written first into the folder, so a later demo knows the files below are a demo's to replace.
MARKER = "socialdesk-demo.txt"
#: What a demo leaves in its folder: the store and queue (:class:`sandbox.stack.Stack`'s default SQLite files,
#: with SQLite's journals and the ingest lock beside them) and the configuration that serves the dashboard.
STORES = ("socialdesk.db", "socialdesk-queue.db")
OWN = (*(f"{db}{end}" for db in STORES for end in ("", "-wal", "-shm", "-journal", "-ingest.lock")), CONFIG_NAME)
#: What a bridge run on the demo's configuration changes: the store (its write-ahead log first) and the configuration.
#: Not the queue's files: the demo's own queue connections still write there as the process ends.
SEALED = ("socialdesk.db", "socialdesk.db-wal", CONFIG_NAME)
NOTICE = f"Made by `socialdesk demo`: a demo run again in this folder replaces {', '.join((*STORES, CONFIG_NAME))}.\n"


def prepare(folder: Path) -> None:
    """Make ``folder`` ready for a demo: the previous demo's files removed, or refused if a demo did not make them.
    A symbolic link counts as present even when it points nowhere, and a marker that is not a plain file is
    refused: the demo writes these names, and writing through a link would change a file outside the folder."""
    present = [folder / name for name in OWN if os.path.lexists(folder / name)]
    marker = folder / MARKER
    if marker.is_symlink() or (os.path.lexists(marker) and not marker.is_file()):
        raise BridgeError(f"--workdir {folder}: its {MARKER} is not a plain file: give --workdir a new or empty folder")
    if present and not marker.exists():
        raise BridgeError(f"--workdir {folder}: it holds {present[0].name} but no {MARKER}, so it may not be a "
                          "demo's: give --workdir a new or empty folder")  # fmt: skip
    changed = _changed_since_sealed(marker, present) if present else []
    if changed:
        raise BridgeError(f"--workdir {folder}: its {changed[0].name} changed after the demo ended (a bridge ran on "
                          "it?), so it is not the demo's to replace: give --workdir a new or empty folder")  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text(NOTICE, encoding="utf-8")
    for path in present:
        path.unlink()


def seal(folder: Path) -> None:
    """After a demo ended: each of its files' size and modification time, in the marker (see the module docstring)."""
    present = [folder / name for name in SEALED if (folder / name).is_file() and not (folder / name).is_symlink()]
    lines = [f"{path.name}\t{_fingerprint(path)}\n" for path in present]
    (folder / MARKER).write_text(NOTICE + "".join(lines), encoding="utf-8")


def _changed_since_sealed(marker: Path, present: list[Path]) -> list[Path]:
    """The present files that differ from the marker's seal; none when the demo that wrote it did not finish (no
    seal: a demo cut short is replaced, as before)."""
    sealed = dict(line.split("\t", 1) for line in marker.read_text(encoding="utf-8").splitlines() if "\t" in line)
    if not sealed:
        return []
    return [path for path in present if path.name in SEALED and sealed.get(path.name) != _fingerprint(path)]


def _fingerprint(path: Path) -> str:
    stat = path.lstat()
    return f"{stat.st_size}\t{stat.st_mtime_ns}"

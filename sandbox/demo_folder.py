"""``socialdesk demo --workdir DIR``: the folder the demo keeps its files in, made ready for a new run.

A second demo in the same folder used to start on the first one's store: its identities named helpdesk users
of the previous run's simulator, which the new simulator does not have, so every ticket was refused 422
("invalid requester"), the messages were dead-lettered and the demo timed out without its summary. Each run
now starts clean: the files a demo made (named by :data:`MARKER`, written before any of them) are removed.
Files of the same names that no demo made (a real bridge's store, say) are never touched: the demo refuses
the folder instead, in one line saying what to do.
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
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text(NOTICE, encoding="utf-8")
    for path in present:
        path.unlink()

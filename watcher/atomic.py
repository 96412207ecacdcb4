"""Small state files written so that a crash or a full disk never leaves half of one behind."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def write_json(path: Path, doc: Any) -> None:
    """Replace `path` with `doc` as JSON: a temporary file, fsynced, then renamed over it (atomic on
    POSIX), so a reader sees the old document or the new one, never a torn one."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)

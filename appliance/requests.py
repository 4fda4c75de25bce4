"""Changes the dashboard asks of the daemon, as files: the web cannot write the store, the daemon can.

One request is one JSON file in the requests folder, written whole (a temporary file,
then a rename) so the daemon never reads half of one. The daemon takes them in the
order they were left, carries them out, and removes them; one it cannot read is
renamed .bad and kept for a person to look at.
"""
from __future__ import annotations

import json
import os
import secrets
import time
from pathlib import Path
from typing import Iterator

DELETE_NIGHT = "delete_night"
DIARY = "diary"              # {date, sleeper, ticked: [factor keys], note}: appliance.diary


def leave_request(folder: str | os.PathLike, action: str, **details) -> Path:
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"{time.time_ns():020d}-{secrets.token_hex(4)}.json"   # names sort in the order they were left
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"action": action, **details}))
    os.replace(tmp, path)
    return path


def take_requests(folder: str | os.PathLike) -> Iterator[dict]:
    """Each request left, oldest first; it is removed once the caller has taken it."""
    d = Path(folder)
    if not d.is_dir():
        return
    for path in sorted(d.glob("*.json")):
        try:
            req = json.loads(path.read_text())
            if not isinstance(req, dict):
                raise ValueError("not an object")
        except (OSError, ValueError):
            path.rename(path.with_suffix(".bad"))
            continue
        yield req
        path.unlink(missing_ok=True)

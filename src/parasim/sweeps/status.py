"""`job_status.json` in every run dir: running → completed | failed | interrupted, with wall time.

Written by the training entry point as it starts and as it ends, so a sweep report can tell a job that
failed or was killed from one that finished, without the launcher's help.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from parasim.utils.files import write_json_atomic

STATUS_FILE = "job_status.json"


def write_status(run_dir: str | Path, status: str, **fields: Any) -> Path:
    return write_json_atomic(Path(run_dir) / STATUS_FILE, {"status": status, **fields})


def read_status(run_dir: str | Path) -> dict[str, Any]:
    """`{"status": "not started"}` for a job dir without a status file (its job never reached training)."""
    path = Path(run_dir) / STATUS_FILE
    return json.loads(path.read_text()) if path.is_file() else {"status": "not started"}

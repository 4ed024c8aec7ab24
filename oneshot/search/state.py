"""Reading the JSON files of a run directory, with a one-line error naming a corrupt one."""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from oneshot.errors import CheckpointError


def read_json(path: str | os.PathLike, what: str) -> Any:
    """Read a JSON file of a run directory; CheckpointError naming the file when it is corrupt."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path} ({what}) is corrupt: {exc}; remove the run directory or use "
                              f"another --out") from None

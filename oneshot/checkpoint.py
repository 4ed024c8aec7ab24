"""Self-describing checkpoints: atomic save, safe load (``weights_only=True``), supernet rebuild.

A checkpoint is a dict of tensors and primitive containers only, so ``torch.load(weights_only=True)``
reads it without executing code. It is marked with ``FORMAT`` so any other file (a foreign pickle,
a torchvision state_dict) is rejected with one clear line instead of a stack trace. A supernet
checkpoint carries the space JSON, the resolved training config, the data split description and
the versions, so ``oneshot search --supernet PATH`` needs nothing else.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from oneshot.atomic import atomic_open
from oneshot.errors import CheckpointError

FORMAT = "oneshot-checkpoint"
FORMAT_VERSION = 1


def save_checkpoint(path: str | os.PathLike, payload: dict[str, Any]) -> Path:
    """Write ``payload`` to ``path`` atomically (``oneshot.atomic``: temp file in the same folder, fsync, rename).

    A crash mid-write leaves the previous checkpoint intact. ``payload`` must hold only tensors and
    primitive containers (dict/list/tuple/str/int/float/bool/None) so that it loads with
    ``weights_only=True``; the format marker is added here.
    """
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = dict(payload)
    data["format"] = FORMAT
    data["format_version"] = FORMAT_VERSION
    with atomic_open(path, binary=True) as f:
        torch.save(data, f)
    return path


def _space_json(space: Any) -> dict[str, Any]:
    return space if isinstance(space, dict) else space.to_json()


def load_checkpoint(path: str | os.PathLike, *, expected_space: Any = None,
                    map_location: Any = "cpu") -> dict[str, Any]:
    """Read a checkpoint written by ``save_checkpoint``; every failure is one ``CheckpointError`` line.

    ``expected_space`` (a SearchSpace or its JSON) makes a checkpoint of another space (or the same
    space with other options) an error naming both.
    """
    import pickle
    import zipfile

    import torch

    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint {path} does not exist; give the supernet.pt written by "
                              "`oneshot train-supernet --out DIR`")
    if path.is_dir():
        hint = f" (did you mean {path / 'supernet.pt'}?)" if (path / "supernet.pt").exists() else ""
        raise CheckpointError(f"checkpoint {path} is a directory, not a file{hint}")
    try:
        data = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"{path} is not a oneshot checkpoint: it needs code execution to load "
                              f"({first[:160]}); only weights_only-safe checkpoints are accepted") from None
    except (EOFError, RuntimeError, zipfile.BadZipFile, OSError, ValueError, KeyError) as exc:
        raise CheckpointError(f"checkpoint {path} is truncated or corrupt ({type(exc).__name__}); "
                              "resume from an earlier copy or retrain") from None
    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a oneshot checkpoint (no '{FORMAT}' marker); give a file "
                              "written by `oneshot train-supernet`")
    if int(data.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckpointError(f"checkpoint {path} has format version {data['format_version']}, newer than "
                              f"this oneshot understands ({FORMAT_VERSION}); upgrade oneshot")
    if expected_space is not None:
        want = _space_json(expected_space)
        have = data.get("space")
        if have != want:
            have_desc = f"{have.get('name')} {have.get('options')}" if isinstance(have, dict) else repr(have)
            raise CheckpointError(f"checkpoint {path} holds space {have_desc}, not "
                                  f"{want.get('name')} {want.get('options')}; use a checkpoint of that space "
                                  "or pass the matching --space/options")
    return data


def load_supernet(path: str | os.PathLike, device: Any = "cpu", *,
                  expected_space: Any = None) -> tuple[Any, dict[str, Any]]:
    """Rebuild the supernet of a checkpoint: ``(Supernet in eval mode on device, metadata)``.

    The space comes from the stored JSON through the registry (``space_from_json``); metadata holds
    ``space``, ``config``, ``data`` (the ``DataSplits.info`` to rebuild the same splits with
    ``oneshot.data.load_data_from_info``), ``versions``, ``epoch`` and whatever else was stored, minus
    the weights and optimizer/sampler states.
    """
    from oneshot.spaces.core import space_from_json
    from oneshot.supernet import Supernet

    data = load_checkpoint(path, expected_space=expected_space)
    missing = [k for k in ("space", "model") if k not in data]
    if missing:
        raise CheckpointError(f"{path} is a oneshot checkpoint but not a supernet one (missing {missing})")
    try:
        space = space_from_json(data["space"])
    except ValueError as exc:
        raise CheckpointError(f"checkpoint {path}: cannot rebuild its space: {exc}") from None
    supernet = Supernet(space)
    try:
        supernet.load_state_dict(data["model"], strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()[0]
        raise CheckpointError(f"checkpoint {path}: weights do not fit space {space.name} ({first[:200]})") from None
    supernet.to(device).eval()
    heavy = {"model", "optimizer", "scheduler", "scaler", "sampler", "rng"}
    meta = {k: v for k, v in data.items() if k not in heavy}
    meta["path"] = str(path)
    return supernet, meta



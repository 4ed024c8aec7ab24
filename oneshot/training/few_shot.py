"""Few-shot supernets (Zhao et al., ICML 2021): split a trained supernet on one searchable dimension.

A one-shot supernet makes every choice of a layer share the weights downstream of it. Splitting on
dimension ``d`` gives one sub-supernet per choice of ``d``: each starts from the trained supernet's
weights and is fine-tuned with ``d`` fixed to its choice (every other dimension still sampled,
uniform or strict-fair as the base run), so the downstream weights no longer have to serve
every choice of ``d`` at once. A search then scores each architecture with the sub-supernet of its
choice at ``d``.

On disk: the base run (``OUT/supernet.pt``), one ordinary resumable run per choice
(``OUT/split-<label>/supernet.pt``) and the manifest ``OUT/few_shot.json`` that the evaluator, the
search and ``eval-ranking`` accept wherever a supernet checkpoint is asked for.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np

from oneshot.atomic import atomic_write_json
from oneshot.errors import CheckpointError, ConfigError
from oneshot.sampling import PathSampler, create_sampler, fixed_paths
from oneshot.spaces.core import Architecture

MANIFEST_NAME = "few_shot.json"
MANIFEST_KIND = "oneshot-few-shot"


class FixedDimensionSampler:
    """Wraps a sampler and pins dimension ``dim`` of every path it draws to ``choice``."""

    def __init__(self, inner: PathSampler, dim: int, choice: int):
        self.inner, self.dim, self.choice = inner, int(dim), int(choice)
        self.name = f"{inner.name}-fixed"

    @property
    def paths_per_step(self) -> int:
        return self.inner.paths_per_step

    def step(self) -> list[Architecture]:
        out = []
        for path in self.inner.step():
            path = list(path)
            path[self.dim] = self.choice
            out.append(Architecture(path))
        return out

    def state_dict(self) -> dict[str, Any]:
        return {"inner": self.inner.state_dict(), "dim": self.dim, "choice": self.choice}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if (state.get("dim"), state.get("choice")) != (self.dim, self.choice):
            raise ValueError(f"sampler state pins dimension {state.get('dim')} to {state.get('choice')}, "
                             f"not {self.dim} to {self.choice}")
        self.inner.load_state_dict(state["inner"])


def resolve_dimension(space: Any, name: str) -> int:
    """Index of the dimension called ``name`` (or given as its index); a one-line error otherwise."""
    names = [d.name for d in space.dimensions]
    if name in names:
        return names.index(name)
    if str(name).isdigit() and int(name) < len(names):
        return int(name)
    raise ConfigError(f"--split {name!r} is not a dimension of space {space.name}; valid: {', '.join(names)}")


def train_few_shot(base_checkpoint: str | os.PathLike, out_dir: str | os.PathLike, split: str, epochs: int,
                   *, lr: float | None = None, echo: Callable[[str], None] = print,
                   progress: bool = True) -> Path:
    """Fine-tune one sub-supernet per choice of dimension ``split`` from ``base_checkpoint``.

    Each sub-run is an ordinary ``train_supernet`` run (resumed if it was interrupted, skipped if
    done) with the base run's recipe, ``epochs`` epochs and ``lr`` (default: the base lr). Returns
    the manifest's path.
    """
    import torch

    from oneshot.checkpoint import load_checkpoint
    from oneshot.provenance import file_sha256
    from oneshot.spaces.core import space_from_json
    from oneshot.supernet import Supernet

    from .config import TrainConfig
    from .loop import CHECKPOINT_NAME, TrainingJob, train_supernet

    if int(epochs) < 1:
        raise ConfigError(f"--split-epochs must be >= 1, got {epochs}")
    base = load_checkpoint(base_checkpoint)
    space = space_from_json(base["space"])
    dim = resolve_dimension(space, split)
    base_cfg = TrainConfig.from_dict(base["config"])
    if base.get("epoch", 0) < base_cfg.epochs:
        raise ConfigError(f"{base_checkpoint} has trained {base.get('epoch')}/{base_cfg.epochs} epochs; "
                          f"finish it (--resume) before splitting")
    out = Path(out_dir)
    subs: dict[str, str] = {}
    labels = space.dimensions[dim].choices
    for choice, label in enumerate(labels):
        cfg = TrainConfig.from_dict({**base_cfg.to_dict(), "epochs": int(epochs), "warmup_epochs": 0.0,
                                     "lr": float(lr) if lr is not None else base_cfg.lr, "progress": progress})
        sub_dir = out / f"split-{label}"
        ckpt = sub_dir / CHECKPOINT_NAME
        done = ckpt.is_file() and load_checkpoint(ckpt).get("epoch", 0) >= cfg.epochs
        if not done:
            echo(f"few-shot: sub-supernet {space.dimensions[dim].name}={label} ({choice + 1}/{len(labels)}), "
                 f"{cfg.epochs} epochs from {base_checkpoint}")

            def model_factory(sp, _state=base["model"]):
                net = Supernet(sp)
                net.load_state_dict(_state)  # inherit the trained one-shot weights
                return net

            def sampler_factory(sp, seed, _choice=choice):
                opts = {"paths": cfg.fair_paths} if cfg.sampling == "fair" else {}
                return FixedDimensionSampler(create_sampler(cfg.sampling, sp, seed, **opts), dim, _choice)

            paths = [list(p) for p in fixed_paths(space, cfg.eval_paths, cfg.seed + 1)]
            for p in paths:
                p[dim] = choice
            torch.manual_seed(cfg.seed)
            job = TrainingJob(model_factory=model_factory, sampler_factory=sampler_factory,
                              eval_paths=[tuple(p) for p in paths])
            train_supernet(cfg, sub_dir, resume=ckpt.is_file(), explicit=set(), echo=echo, job=job)
        subs[str(choice)] = os.path.relpath(ckpt, out)
    manifest = {"kind": MANIFEST_KIND, "space": base["space"], "split_dim": dim,
                "split_name": space.dimensions[dim].name, "split_epochs": int(epochs),
                "lr": float(lr) if lr is not None else base_cfg.lr,
                "base": os.path.relpath(base_checkpoint, out), "base_sha256": file_sha256(base_checkpoint),
                "supernets": subs,
                # the manifest's own hash (what a search records) then covers the sub-supernets too
                "supernets_sha256": {k: file_sha256(out / v) for k, v in subs.items()}}
    path = out / MANIFEST_NAME
    atomic_write_json(path, manifest)
    echo(f"few-shot supernet: {path} (search with --supernet {path})")
    return path


def is_manifest(path: str | os.PathLike) -> bool:
    return str(path).endswith(".json")


def load_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """The manifest with absolute checkpoint paths; one-line errors for a missing or foreign file."""
    path = Path(path)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise CheckpointError(f"few-shot manifest {path} does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"few-shot manifest {path} is not valid JSON ({exc}); "
                              f"rerun `oneshot train-supernet --split ... --resume`") from None
    if not isinstance(data, dict) or data.get("kind") != MANIFEST_KIND:
        raise CheckpointError(f"{path} is not a few-shot manifest (written by `oneshot train-supernet --split`)")
    root = path.resolve().parent
    data["base"] = str(root / data["base"])
    data["supernets"] = {int(k): str(root / v) for k, v in data["supernets"].items()}
    from oneshot.provenance import file_sha256

    for k, v in data["supernets"].items():
        if not Path(v).is_file():
            raise CheckpointError(f"few-shot manifest {path}: sub-supernet {v} is missing")
        want = (data.get("supernets_sha256") or {}).get(str(k))
        if want and file_sha256(v) != want:
            raise CheckpointError(f"few-shot manifest {path}: sub-supernet {v} changed since the split was "
                                  f"written (sha256 differs); rerun `oneshot train-supernet --resume --split ...`")
    return data


def route(archs: list[Any], dim: int) -> dict[int, list[int]]:
    """Indices of ``archs`` grouped by their choice at ``dim``."""
    groups: dict[int, list[int]] = {}
    for i, a in enumerate(archs):
        groups.setdefault(int(np.asarray(a)[dim]), []).append(i)
    return groups

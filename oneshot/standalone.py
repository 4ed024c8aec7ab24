"""Stand-alone training of one fixed architecture, through the supernet training loop.

``train_architecture`` hands ``oneshot.training.train_supernet`` a model that *is* the architecture's
network (``FixedPathNet``, called as ``model(x, path)`` like a supernet) and a sampler that always
answers that path, so the data options, optimizer and schedule, AMP, DDP, progress bar, JSONL log,
atomic per-epoch checkpoints and bit-exact ``--resume`` are the supernet loop's, not a second copy.
Weights start fresh (seeded He init, ``init="scratch"``) or inherited from a supernet
(``init="inherit"``, fine-tuning). At the end the network's BN statistics are recomputed exactly over
training images (PreciseBN), its final validation and test accuracy go to ``result.json`` and it is
exported to ``DIR/model`` (``oneshot.load_model``).

``StandaloneEvaluator`` (evaluator kind ``standalone``) trains each architecture it is asked about
with one recipe; ``oneshot eval-ranking`` uses it as ground truth, on Ray workers when asked.
"""
from __future__ import annotations

import copy
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from oneshot.atomic import atomic_write_json
from oneshot.evaluation.base import EvaluationResult, EvaluatorSpec, evaluate_one
from oneshot.spaces.core import Architecture
from oneshot.spaces.network import SubNetwork, build_network

RESULT_NAME = "result.json"
ARCH_NAME = "arch_train.json"
CHECKPOINT_NAME = "model.pt"
MODEL_DIR = "model"
INITS = ("scratch", "inherit")


class FixedPathNet(SubNetwork):
    """A standalone network that accepts (and ignores) a path, so the supernet loop can train it."""

    def forward(self, x: torch.Tensor, arch: Sequence[int] | None = None) -> torch.Tensor:  # noqa: D102
        for module in self:
            x = module(x)
        return x

    def extract(self, arch: Sequence[int] | None = None) -> SubNetwork:
        """A copy as a plain ``SubNetwork`` (the loop's monitor recalibrates BN on the copy)."""
        net = SubNetwork([copy.deepcopy(m) for m in self], self.arch, self.space_name)
        net.train(self.training)
        return net

    @classmethod
    def of(cls, net: SubNetwork) -> "FixedPathNet":
        return cls(list(net), net.arch, net.space_name)


class FixedSampler:
    """Always the same path: the loop's sampler interface for stand-alone training."""

    name = "fixed"
    paths_per_step = 1

    def __init__(self, arch: Sequence[int]):
        self.arch = Architecture(arch)
        self.steps = 0

    def step(self) -> list[Architecture]:
        self.steps += 1
        return [self.arch]

    def state_dict(self) -> dict[str, Any]:
        return {"name": self.name, "arch": list(map(int, self.arch)), "steps": self.steps}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        from oneshot.errors import CheckpointError

        if state.get("name") != self.name or list(state.get("arch", [])) != list(self.arch):
            raise CheckpointError(f"the checkpoint trained architecture {state.get('arch')}, not {list(self.arch)}; "
                                  "use another --out or resume without --arch")
        self.steps = int(state["steps"])


def config_from_supernet(meta: dict[str, Any], overrides: dict[str, Any] | None = None):
    """A ``TrainConfig`` on the supernet's space and data (its recorded config), with ``overrides``.

    The space is the recorded one: by name, or by its recorded description where the name alone
    does not rebuild it (a space file's space, whose file may be gone)."""
    from oneshot.training import TrainConfig

    base = dict(meta.get("config") or {})
    space = meta["space"]
    base.update(space=space if "spec" in space else space["name"], space_options=dict(space.get("options", {})), sampling="uniform", fair_paths=None)
    if meta.get("data"):
        base.update(resolution=meta["data"].get("resolution"), data=meta["data"].get("spec", base.get("data")),
                    val_fraction=meta["data"].get("val_fraction", base.get("val_fraction", 0.1)))
    base.update(overrides or {})
    return TrainConfig.from_dict(base)


def train_architecture(config: Any, arch: Sequence[int] | str | None, out_dir: str | os.PathLike, *,
                       init: str = "scratch", supernet: str | None = None, resume: bool = False,
                       explicit: set[str] | None = None, monitor: bool = True, export: bool = True,
                       stop_after: int | None = None, echo: Callable[[str], None] = print) -> dict[str, Any]:
    """Train ``arch`` of ``config.space`` alone into ``out_dir``; returns (and writes) ``result.json``.

    ``init="inherit"`` starts from ``supernet``'s weights for that path (fine-tuning); its space must
    be ``config``'s (``config_from_supernet`` builds such a config). ``resume`` continues
    ``out_dir/model.pt`` (the architecture and init are read from ``out_dir/arch_train.json``).
    ``stop_after`` ends this call after that many epochs; the result then has ``"finished": False``
    and no final accuracies (continue with ``resume``).
    """
    from oneshot.data import parse_spec
    from oneshot.errors import ConfigError
    from oneshot.spaces.core import space_from_json
    from oneshot.training.loop import TrainingJob, build_space, train_supernet
    from oneshot.training.monitor import accuracy

    out = Path(out_dir)
    if init not in INITS:
        raise ConfigError(f"unknown --init {init!r}; valid: {', '.join(INITS)}")
    if resume:
        info_path = out / ARCH_NAME
        if not info_path.is_file():
            raise ConfigError(f"--resume: {info_path} is missing; {out} was not written by `oneshot train-arch`")
        info = json.loads(info_path.read_text())
        space = space_from_json(info["space"])
        if arch is not None:
            given = space.parse(arch) if isinstance(arch, str) else space.validate(arch)
            if space.key(given) != info["key"]:
                raise ConfigError(f"--resume: {out} trains {info['encoding']}, not {space.encoding_key(given)}; "
                                  "drop --arch or use another --out")
        init, supernet, arch = info["init"], info.get("supernet"), space.validate(info["arch"])
    else:
        if arch is None:
            raise ConfigError("give the architecture to train (--arch KEY)")
        config.validate()
        space, _ = build_space(config, parse_spec(config.data)[0])
        arch = space.parse(arch) if isinstance(arch, str) else space.validate(arch)
    if init == "inherit" and not supernet:
        raise ConfigError("--init inherit needs --supernet CKPT (the weights to fine-tune)")
    if not resume:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_json(out / ARCH_NAME, {"arch": list(map(int, arch)), "key": space.key(arch),
                                       "encoding": space.encoding_key(arch), "readable": space.format(arch),
                                       "space": space.to_json(), "init": init, "supernet": supernet},
                          indent=2, default=str)

    def model_factory(space_: Any) -> FixedPathNet:
        if init == "inherit" and not resume:
            from oneshot.checkpoint import load_supernet

            sn, _ = load_supernet(supernet, expected_space=space_)
            return FixedPathNet.of(sn.extract(arch).train())
        return FixedPathNet.of(build_network(space_, arch))  # the loop seeded torch just before

    t0 = time.perf_counter()
    job = TrainingJob(model_factory=model_factory, sampler_factory=lambda _s, _seed: FixedSampler(arch),
                      eval_paths=[tuple(arch)] if monitor else [], checkpoint_name=CHECKPOINT_NAME)
    result = train_supernet(config, out, resume=resume, explicit=explicit, echo=echo, stop_after=stop_after, job=job)
    seconds = time.perf_counter() - t0
    if result.epochs_done < _stored_epochs(out):
        return {"finished": False, "epochs": result.epochs_done, "encoding": space.encoding_key(arch)}
    return finish(config, space, arch, out, result.history, init=init, supernet=supernet, export=export,
                  seconds=seconds, accuracy_fn=accuracy)


def _stored_epochs(out: Path) -> int:
    from oneshot.checkpoint import load_checkpoint

    return int(load_checkpoint(out / CHECKPOINT_NAME)["config"]["epochs"])


def finish(config: Any, space: Any, arch: Sequence[int], out: Path, history: list[dict[str, Any]], *,
           init: str, supernet: str | None, export: bool, seconds: float, accuracy_fn: Callable) -> dict[str, Any]:
    """PreciseBN, final val/test accuracy of the trained network, result.json, export."""
    from oneshot.checkpoint import load_checkpoint
    from oneshot.data import load_data_from_info
    from oneshot.training.monitor import recalibrate_bn

    state = load_checkpoint(out / CHECKPOINT_NAME)
    net = build_network(space, arch)
    net.load_state_dict(state["model"])
    data = load_data_from_info(state["data"], spec=config.data)
    device = torch.device("cpu")
    # PreciseBN: the running averages of a short, high-lr run trail the final weights (they can score
    # near chance); exact statistics over unaugmented training images are what the network should carry
    n_calib = min(int(state["config"].get("bn_calib_images", 512)) or 512, len(data.train))
    recalibrate_bn(net, data.train.subset(torch.arange(n_calib)), config.eval_batch_size, device)
    net.eval()
    val = accuracy_fn(net, data.val, config.eval_batch_size, device)
    test = accuracy_fn(net, data.test, config.eval_batch_size, device) if data.test is not None else None
    result = {"finished": True, "arch": list(map(int, arch)), "key": space.key(arch), "encoding": space.encoding_key(arch),
              "init": init, "supernet": supernet, "epochs": int(state["epoch"]), "val_accuracy": val,
              "test_accuracy": test, "bn": f"precise-{n_calib}", "train_seconds_this_run": round(seconds, 2), "data": state["data"],
              "config": state["config"], "history": history}
    if export:
        from oneshot.export import export_network

        export_network(net, space, out / MODEL_DIR, overwrite=True, onnx=False,
                       provenance={"trained_by": "oneshot train-arch", "init": init, "supernet": supernet,
                                   "epochs": result["epochs"], "val_accuracy": val, "test_accuracy": test,
                                   "data": state["data"], "train_config": state["config"]})
        result["model_dir"] = str(out / MODEL_DIR)
    atomic_write_json(out / RESULT_NAME, result, indent=2, default=str)
    return result


# --------------------------------------------------------------------------- as an evaluator
class StandaloneEvaluator:
    """Ground truth by training: each architecture is trained from scratch with one recipe.

    ``metrics``: ``accuracy`` (final validation top-1, %), ``test_accuracy`` (%), ``train_seconds``.
    Training happens in a temporary directory (``workdir`` to keep the runs) without progress bars.
    """

    metric_names = ("accuracy", "test_accuracy", "train_seconds")

    def __init__(self, config: dict[str, Any], workdir: str | None = None, threads: int | None = None):
        from oneshot.data import parse_spec
        from oneshot.training import TrainConfig
        from oneshot.training.loop import build_space

        if threads:
            torch.set_num_threads(int(threads))
        self.config = TrainConfig.from_dict(config)
        self.config.progress = False
        self.space, _ = build_space(self.config, parse_spec(self.config.data)[0])
        self.workdir = workdir

    def evaluate(self, archs: Sequence[Architecture]) -> list[EvaluationResult]:
        return [evaluate_one(self.space, arch, self._score) for arch in archs]

    def _score(self, arch: Architecture, key: str) -> dict[str, float]:
        start = time.perf_counter()
        if self.workdir:
            run_dir = Path(self.workdir) / key
            run_dir.mkdir(parents=True, exist_ok=True)
            res = self._train(arch, run_dir)
        else:
            with tempfile.TemporaryDirectory(prefix="oneshot-standalone-") as tmp:
                res = self._train(arch, Path(tmp))
        metrics = {"accuracy": float(res["val_accuracy"]), "train_seconds": time.perf_counter() - start}
        if res["test_accuracy"] is not None:
            metrics["test_accuracy"] = float(res["test_accuracy"])
        return metrics

    def _train(self, arch: Architecture, run_dir: Path) -> dict[str, Any]:
        resume = (run_dir / CHECKPOINT_NAME).exists()
        if resume and (run_dir / RESULT_NAME).exists():
            return json.loads((run_dir / RESULT_NAME).read_text())
        return train_architecture(copy.deepcopy(self.config), None if resume else arch, run_dir, resume=resume,
                                  monitor=False, export=False, echo=lambda _m: None)

    def close(self) -> None:
        pass


def standalone_spec(space: Any, data_info: dict[str, Any], recipe: dict[str, Any] | None = None, *,
                    base_config: dict[str, Any] | None = None, workdir: str | None = None) -> EvaluatorSpec:
    """The ``standalone`` evaluator spec for ``space`` on the recorded data, with a training ``recipe``.

    ``base_config`` (the supernet's training config) supplies the defaults, so stand-alone training
    uses the same data, resolution, batch size and augmentation unless the recipe says otherwise;
    an ``npz:`` path is made absolute so Ray workers find it from any directory.
    """
    from oneshot.data import parse_spec

    cfg = dict(base_config or {})
    spec = data_info.get("spec", cfg.get("data", "digits"))
    kind, arg = parse_spec(spec)
    if kind in ("npz", "imagefolder", "cifar10", "cifar100"):
        spec = f"{kind}:{os.path.abspath(arg)}"
    from oneshot.spaces.registry import space_ref

    cfg.update(space=space_ref(space), space_options=dict(space.options), data=spec,
               resolution=data_info.get("resolution", space.resolution),
               val_fraction=data_info.get("val_fraction", cfg.get("val_fraction", 0.1)),
               sampling="uniform", eval_paths=0, progress=False, device=cfg.get("device", "cpu"))
    cfg.pop("fair_paths", None)
    cfg.update(recipe or {})
    return EvaluatorSpec("standalone", {"config": cfg, "workdir": workdir})


"""``train_supernet``: the single-path supernet training loop, readable top to bottom.

Setup (device, DDP, data, space, supernet, optimizer, schedule, sampler), optionally restore a
checkpoint, then per epoch: train over shuffled batches, score a few fixed paths on the validation
split, write the checkpoint atomically and rewrite the JSONL log from the checkpoint's history (so
log and checkpoint never disagree after a crash). Everything random is derived from ``config.seed``:
initial weights (torch's generator seeded once), batch order and augmentation (a generator per
epoch, seeded from (seed, epoch)) and paths (the sampler's numpy generator), which is what makes a
resumed run bit-identical to an uninterrupted one on CPU.
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
from torch import nn

from oneshot.atomic import atomic_write_text
from oneshot.checkpoint import load_checkpoint, save_checkpoint
from oneshot.provenance import versions
from oneshot.data import load_data, load_data_from_info, parse_spec
from oneshot.data.sources import DEFAULT_RESOLUTION, same_spec
from oneshot.errors import CheckpointError, ConfigError
from oneshot.sampling import create_sampler, fixed_paths
from oneshot.spaces.core import space_from_json
from oneshot.spaces.registry import create_space, space_label, space_options
from oneshot.supernet import Supernet

from . import distributed as D
from .config import TrainConfig
from .monitor import score_paths
from .distill import largest_path
from .step import train_step

CHECKPOINT_NAME = "supernet.pt"
LOG_NAME = "train_log.jsonl"
CONFIG_NAME = "config.yaml"


@dataclass
class TrainResult:
    checkpoint: Path
    epochs_done: int
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def final_val(self) -> dict[str, float]:
        return self.history[-1]["val"] if self.history else {}


# ----------------------------------------------------------------- helpers
def resolve_device(name: str, local_rank: int = 0) -> torch.device:
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError("--device cuda was asked for but torch sees no CUDA device; use --device cpu")
        return torch.device(name if ":" in name else f"cuda:{local_rank}")
    return torch.device("cpu")


def build_space(config: TrainConfig, data_kind: str):
    """The space at the data's resolution; ``(space, resolution)``."""
    accepted = space_options(config.space)  # a name, a space file or a plugin; unknown ones are refused
    opts = dict(config.space_options)
    resolution = config.resolution or opts.get("resolution")
    if resolution is None:
        resolution = DEFAULT_RESOLUTION[data_kind] if "resolution" in accepted else None
    if "resolution" in accepted:
        opts["resolution"] = int(resolution)
    space = create_space(config.space, **opts)
    if resolution is not None and int(resolution) != space.resolution:
        raise ConfigError(f"space {space_label(config.space)!r} is fixed at resolution {space.resolution}, not {resolution}; "
                          f"drop --resolution or use --resolution {space.resolution}")
    return space, space.resolution


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Weight decay on conv/linear weights only; BN parameters and biases are not decayed."""
    decay, no_decay = [], []
    for p in model.parameters():
        (decay if p.dim() > 1 else no_decay).append(p)
    return [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}]


def lr_factor(config: TrainConfig, steps_per_epoch: int) -> Callable[[int], float]:
    """Multiplier of the base lr at optimizer step ``s`` (linear warmup, then the schedule)."""
    total = config.epochs * steps_per_epoch
    warm = int(round(config.warmup_epochs * steps_per_epoch))
    floor = config.min_lr / config.lr

    def factor(s: int) -> float:
        if s < warm:
            return (s + 1) / warm
        if config.schedule == "constant":
            return 1.0
        if config.schedule == "step":
            return 0.1 ** (s // (config.step_epochs * steps_per_epoch))
        progress = (s - warm) / max(1, total - warm)
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

    return factor


def _autocast_factory(device: torch.device, amp: bool) -> tuple[Callable, Any, str]:
    if not amp or device.type != "cuda":
        return contextlib.nullcontext, None, "off"
    if torch.cuda.is_bf16_supported():
        return (lambda: torch.autocast("cuda", dtype=torch.bfloat16)), None, "bf16"
    return (lambda: torch.autocast("cuda", dtype=torch.float16)), torch.amp.GradScaler("cuda"), "fp16"


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all(state["cuda"])


def epoch_generator(seed: int, epoch: int) -> torch.Generator:
    """Batch order and augmentation of one epoch: a pure function of (seed, epoch)."""
    return torch.Generator().manual_seed(int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0]))


def _merge_resume_config(stored: dict[str, Any], given: TrainConfig | None, explicit: set[str]) -> TrainConfig:
    """The checkpoint's config, with runtime-only options and a longer ``epochs`` taken from ``given``."""
    cfg = TrainConfig.from_dict(stored)
    if given is None:
        return cfg
    for key in explicit:
        new, old = getattr(given, key), getattr(cfg, key)
        if new == old or (key == "data" and same_spec(new, old)):
            continue  # a relative and an absolute path to the same data file are the same data
        if key in TrainConfig.RUNTIME_KEYS:
            setattr(cfg, key, new)
        elif key == "epochs" and new > old:
            cfg.epochs = new  # extends the run; the schedule horizon moves, so lr differs from here on
        else:
            raise ConfigError(f"--resume continues the stored run: {key}={old!r} in the checkpoint, "
                              f"{new!r} given; drop the option or start a new --out")
    return cfg.validate()


# ------------------------------------------------------------------ the loop
@dataclass
class TrainingJob:
    """What a training run trains, when it is not a supernet of the configured sampling (``oneshot
    train-arch`` trains one fixed architecture, few-shot fine-tuning one sub-supernet):
    ``model_factory(space)`` replaces ``Supernet(space)`` (the model is called as ``model(x, path)``),
    ``sampler_factory(space, seed)`` the configured sampler, ``eval_paths`` the monitored paths,
    ``checkpoint_name`` the file name."""

    model_factory: Callable[[Any], nn.Module] = Supernet
    sampler_factory: Callable[[Any, int], Any] | None = None
    eval_paths: list[tuple[int, ...]] | None = None
    checkpoint_name: str = CHECKPOINT_NAME


def train_supernet(config: TrainConfig, out_dir: str | os.PathLike, *, resume: bool = False,
                   explicit: set[str] | None = None, stop_after: int | None = None,
                   echo: Callable[[str], None] = print, job: TrainingJob | None = None,
                   on_epoch: Callable[[dict[str, Any]], None] | None = None) -> TrainResult:
    """Train a supernet per ``config`` into ``out_dir`` (``supernet.pt``, ``train_log.jsonl``, ``config.yaml``).

    ``resume`` continues from ``out_dir/supernet.pt`` (its stored config wins; ``explicit`` names the
    options the user set, which must agree except runtime ones and a longer ``epochs``).
    ``stop_after`` ends this invocation after that many epochs (time-sliced or preemptible jobs;
    continue later with ``resume``). ``on_epoch(record)`` is called on rank 0 after each epoch's
    checkpoint is written (progress for sweeps). Under ``torchrun`` every rank calls this; rank 0
    writes files. ``job`` trains something other than the configured supernet (``TrainingJob``).
    """
    from oneshot.allocator import pin_unless_opted_out

    # every step allocates the same 10-100 MB activations: keep them mapped instead of
    # page-faulting them in again (oneshot/allocator.py); ONESHOT_ALLOCATOR=default opts out
    pin_unless_opted_out()
    run = _TrainingRun(config, Path(out_dir), job or TrainingJob(), echo)
    run.open(resume, explicit or set())
    try:
        return run.train(stop_after, on_epoch)
    finally:
        run.close()


@dataclass
class _Runtime:
    """Where and how the steps run: device, DDP ranks, mixed precision, memory format."""

    device: torch.device
    dist: Any
    autocast: Callable
    scaler: Any
    amp_mode: str
    channels_last: bool

    @property
    def memory_format(self) -> torch.memory_format:
        return torch.channels_last if self.channels_last else torch.contiguous_format

    @classmethod
    def create(cls, config: TrainConfig) -> "_Runtime":
        device_kind = "cuda" if config.device.startswith("cuda") or (
            config.device == "auto" and torch.cuda.is_available()) else "cpu"
        dist_info = D.init_from_env(device_kind)
        device = resolve_device(config.device, dist_info.local_rank)
        if device.type == "cuda":
            torch.cuda.set_device(device)
        use_amp = config.amp if config.amp is not None else device.type == "cuda"
        use_cl = config.channels_last if config.channels_last is not None else device.type == "cuda"
        autocast, scaler, amp_mode = _autocast_factory(device, use_amp)
        return cls(device, dist_info, autocast, scaler, amp_mode, bool(use_cl))


class _TrainingRun:
    """One ``train_supernet`` call, in the order it happens: ``open`` (checkpoint, runtime, data,
    model), ``train`` (epochs), ``close``."""

    def __init__(self, config: TrainConfig, out: Path, job: TrainingJob, echo: Callable[[str], None]):
        self.config, self.out, self.job = config, out, job
        self.ckpt_path = out / job.checkpoint_name
        self.echo = echo
        self.lock = None
        self.rt: _Runtime | None = None

    def say(self, msg: str) -> None:
        if self.rt is None or self.rt.dist.is_main:
            self.echo(msg)

    # ---------------------------------------------------------------- open
    def open(self, resume: bool, explicit: set[str]) -> None:
        if self.out.exists() and not self.out.is_dir():
            raise ConfigError(f"--out {self.out} is a file; give a directory for the run")
        self.state: dict[str, Any] | None = None
        if resume:
            if not self.ckpt_path.exists():
                raise CheckpointError(f"--resume: no checkpoint at {self.ckpt_path}; start without --resume")
            self.state = load_checkpoint(self.ckpt_path)
            self.config = _merge_resume_config(self.state["config"], self.config, explicit)
        elif self.ckpt_path.exists():
            raise ConfigError(f"{self.out} already holds a supernet checkpoint; pass --resume to continue it or "
                              "choose another --out")
        self.config.validate()
        self.rt = _Runtime.create(self.config)
        self.space, self.data = self._space_and_data()
        self._build()
        self.start_epoch, self.step, self.history = 0, 0, []
        if self.state is not None:
            self._restore(self.state)
        D.broadcast_model(self.supernet, self.rt.dist)
        if self.rt.dist.is_main:
            self._take_directory()

    def _space_and_data(self):
        config = self.config
        kind, _ = parse_spec(config.data)
        config.resolve_data_defaults(kind)
        if self.rt.device.type == "cpu":
            torch.set_num_threads(config.threads or 1)
        if self.state is not None:
            space = space_from_json(self.state["space"])
            data = load_data_from_info(self.state["data"], download=config.download, spec=config.data)
        else:
            space, resolution = build_space(config, kind)
            config.resolution = resolution
            # the class count comes from the data (a 3-class image folder trains a 3-way classifier);
            # a space option that says otherwise is a mistake, refused rather than silently obeyed
            data = load_data(config.data, resolution, seed=config.seed, val_fraction=config.val_fraction,
                             download=config.download, train_fraction=config.train_fraction)
            if "num_classes" in space_options(config.space):
                given = config.space_options.get("num_classes")
                if given is not None and int(given) != data.num_classes:
                    raise ConfigError(f"-o num_classes={given} contradicts --data {config.data}, which has "
                                      f"{data.num_classes} classes; drop -o num_classes")
                if getattr(space, "num_classes", data.num_classes) != data.num_classes:
                    config.space_options = {**config.space_options, "num_classes": data.num_classes}
                    space, _ = build_space(config, kind)
        if getattr(space, "num_classes", data.num_classes) < data.num_classes:
            raise ConfigError(f"space {space.name} classifies {space.num_classes} classes but {config.data} has "
                              f"{data.num_classes}; pass -o num_classes={data.num_classes}")
        return space, data

    def _build(self) -> None:
        """Model, optimizer, schedule, sampler, monitored paths, BN calibration subset."""
        config, rt, space, data = self.config, self.rt, self.space, self.data
        torch.manual_seed(config.seed)
        self.supernet = self.job.model_factory(space).to(device=rt.device, memory_format=rt.memory_format)
        self.optimizer = torch.optim.SGD(param_groups(self.supernet, config.weight_decay), lr=config.lr,
                                         momentum=config.momentum, nesterov=config.nesterov)
        per_rank_min = rt.dist.world_size * 2  # BN needs >= 2 images per rank
        if config.batch_size < per_rank_min:
            raise ConfigError(f"--batch-size {config.batch_size} is too small for {rt.dist.world_size} rank(s); "
                              f"use >= {per_rank_min}")
        self.steps_per_epoch = data.train.num_batches(config.batch_size, drop_last=True)
        if self.steps_per_epoch < 1:
            raise ConfigError(f"--batch-size {config.batch_size} exceeds the {len(data.train)} training images")
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_factor(config, self.steps_per_epoch))
        sampler_opts = {"paths": config.fair_paths} if config.sampling == "fair" else {}
        self.sampler = (self.job.sampler_factory(space, config.seed) if self.job.sampler_factory is not None
                        else create_sampler(config.sampling, space, config.seed, **sampler_opts))
        self.eval_paths = (self.job.eval_paths if self.job.eval_paths is not None
                           else fixed_paths(space, config.eval_paths, config.seed + 1))
        self.criterion = nn.CrossEntropyLoss(label_smoothing=config.label_smoothing)
        self.teacher = largest_path(space) if config.distill > 0 else None
        self.calib = data.train.subset(torch.arange(min(config.bn_calib_images, len(data.train))))
        self.reduce = (lambda m: D.average_gradients(m, rt.dist)) if rt.dist.enabled else None

    def _restore(self, state: dict[str, Any]) -> None:
        self.supernet.load_state_dict(state["model"])
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_factor(self.config, self.steps_per_epoch))
        self.scheduler.load_state_dict(state["scheduler"])
        # after the scheduler: creating it resets the groups' lr to factor(0); the saved lr is the right one
        self.optimizer.load_state_dict(state["optimizer"])
        if self.rt.scaler is not None and state.get("scaler"):
            self.rt.scaler.load_state_dict(state["scaler"])
        self.sampler.load_state_dict(state["sampler"])
        _set_rng_state(state["rng"])
        self.start_epoch, self.step = int(state["epoch"]), int(state["step"])
        self.history = list(state.get("history", []))
        self.eval_paths = [tuple(p) for p in state.get("eval_paths", self.eval_paths)]
        self.say(f"resumed {self.ckpt_path} at epoch {self.start_epoch}/{self.config.epochs}")

    def _take_directory(self) -> None:
        from oneshot.runlock import RunLock

        # one training per directory: a second train-supernet (or --resume) on it is refused while
        # this one runs; the kernel releases the lock if this process dies
        self.lock = RunLock(self.out, "train-supernet").acquire()
        import yaml

        config, rt, dist = self.config, self.rt, self.rt.dist
        atomic_write_text(self.out / CONFIG_NAME, yaml.safe_dump(config.to_dict(), sort_keys=False))
        self.say(f"space {self.space.name} {self.space.options} | data {config.data} {self.data.info['sizes']} at "
                 f"{self.data.resolution}px | sampling {config.sampling} ({self.sampler.paths_per_step} path(s)/step) | "
                 f"{self.steps_per_epoch} steps/epoch | device {rt.device}"
                 f"{' x' + str(dist.world_size) if dist.enabled else ''} | amp {rt.amp_mode} | "
                 f"channels_last {rt.channels_last}")

    # --------------------------------------------------------------- train
    def train(self, stop_after: int | None, on_epoch: Callable[[dict[str, Any]], None] | None) -> TrainResult:
        config, main = self.config, self.rt.dist.is_main
        end_epoch = config.epochs if stop_after is None else min(config.epochs, self.start_epoch + stop_after)
        for epoch in range(self.start_epoch, end_epoch):
            record = self._train_epoch(epoch)
            if main:
                self._monitor_and_save(record)
                if on_epoch is not None:
                    on_epoch(record)
            if self.rt.dist.enabled:
                torch.distributed.barrier()
        epochs_done = max(end_epoch, self.start_epoch)
        if epochs_done >= config.epochs:
            self.say(f"done: {self.ckpt_path}")
        else:
            self.say(f"stopped after epoch {epochs_done}/{config.epochs}; continue with --resume")
        return TrainResult(self.ckpt_path, epochs_done, self.history)

    def _train_epoch(self, epoch: int) -> dict[str, Any]:
        config, rt, dist = self.config, self.rt, self.rt.dist
        self.supernet.train()
        gen = epoch_generator(config.seed, epoch)
        batches = self.data.train.batches(config.batch_size, shuffle=True, generator=gen, augment=config.augment,
                                          cutout=config.cutout, trivial_augment=config.trivial_augment,
                                          drop_last=True)
        bar = _progress(self.steps_per_epoch, f"epoch {epoch + 1}/{config.epochs}", config.progress and dist.is_main)
        loss_sum, correct, seen, images, path_log = 0.0, 0, 0, 0, []
        t0 = time.perf_counter()
        for x, y in batches:
            x, y = D.shard(x, dist), D.shard(y, dist)
            x = x.to(rt.device, non_blocking=True).contiguous(memory_format=rt.memory_format)
            y = y.to(rt.device, non_blocking=True)
            paths = self.sampler.step()
            path_log.extend(paths)
            r = train_step(self.supernet, paths, x, y, self.criterion, self.optimizer, autocast=rt.autocast,
                           scaler=rt.scaler, grad_clip=config.grad_clip, reduce_grads=self.reduce,
                           teacher=self.teacher, distill=config.distill)
            self.scheduler.step()
            self.step += 1
            loss_sum += r.loss
            correct += r.correct
            seen += r.seen
            images += int(y.shape[0]) * dist.world_size
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{loss_sum / bar.n:.3f}", acc=f"{100 * correct / max(seen, 1):.1f}",
                                lr=f"{self.optimizer.param_groups[0]['lr']:.4f}",
                                img_s=f"{images / (time.perf_counter() - t0):.0f}", refresh=False)
        if rt.device.type == "cuda":
            torch.cuda.synchronize(rt.device)
        seconds = time.perf_counter() - t0
        if bar is not None:
            bar.close()
        D.check_same(f"the paths of epoch {epoch + 1}", np.asarray(path_log, dtype=np.int64).tobytes(),
                     dist, rt.device)
        if dist.enabled:  # identical paths + averaged gradients must give identical weights
            D.check_same(f"the weights after epoch {epoch + 1}", D.weights_digest(self.supernet), dist, rt.device)
        return {"epoch": epoch + 1, "step": self.step, "train_loss": round(loss_sum / self.steps_per_epoch, 5),
                "train_acc": round(100 * correct / max(seen, 1), 3), "lr": self.optimizer.param_groups[0]["lr"],
                "img_per_s": round(images / seconds, 1), "seconds": round(seconds, 2)}

    def _monitor_and_save(self, record: dict[str, Any]) -> None:
        """Rank 0 after an epoch: score the monitored paths, write the checkpoint, rewrite the log."""
        config, rt = self.config, self.rt
        t1 = time.perf_counter()
        accs = score_paths(self.supernet, self.eval_paths, self.calib, self.data.val, config.eval_batch_size,
                           rt.device, autocast=rt.autocast, memory_format=rt.memory_format)
        record["val"] = {self.space.encoding_key(p): round(a, 3) for p, a in zip(self.eval_paths, accs)}
        if accs:
            record.update(val_mean=round(float(np.mean(accs)), 3), val_min=round(min(accs), 3),
                          val_max=round(max(accs), 3))
        record["bn"] = f"exact-{len(self.calib)}"
        record["eval_seconds"] = round(time.perf_counter() - t1, 2)
        self.history.append(record)
        save_checkpoint(self.ckpt_path, {
            "kind": "supernet", "space": self.space.to_json(), "config": config.to_dict(), "data": self.data.info,
            "versions": versions(), "epoch": record["epoch"], "step": self.step, "world_size": rt.dist.world_size,
            "model": self.supernet.state_dict(), "optimizer": self.optimizer.state_dict(),
            "scheduler": self.scheduler.state_dict(), "scaler": rt.scaler.state_dict() if rt.scaler is not None else None,
            "sampler": self.sampler.state_dict(), "rng": _rng_state(), "history": self.history,
            "eval_paths": [list(map(int, p)) for p in self.eval_paths],
            "runtime": {"device": str(rt.device), "amp": rt.amp_mode, "channels_last": rt.channels_last,
                        "threads": torch.get_num_threads() if rt.device.type == "cpu" else None},
        })
        atomic_write_text(self.out / LOG_NAME, "".join(json.dumps(h) + "\n" for h in self.history))
        val_txt = (f"val acc of {len(accs)} fixed paths: mean {record['val_mean']:.1f}% "
                   f"(min {record['val_min']:.1f}, max {record['val_max']:.1f})" if accs else "")
        self.say(f"epoch {record['epoch']}/{config.epochs}: loss {record['train_loss']:.3f} train acc "
                 f"{record['train_acc']:.1f}% | {val_txt} | {record['img_per_s']:.0f} img/s")

    def close(self) -> None:
        if self.rt is not None:
            D.shutdown(self.rt.dist)
        if self.lock is not None:
            self.lock.release()


def training_progress(out_dir: str | os.PathLike) -> tuple[list[dict[str, Any]], int | None]:
    """The epoch records of the run in ``out_dir`` (its ``train_log.jsonl``, empty when it has none)
    and its planned epochs (from ``config.yaml``; None when unknown): progress without torch."""
    import yaml

    out = Path(out_dir)
    try:
        log = [json.loads(ln) for ln in (out / LOG_NAME).read_text().splitlines() if ln.strip()]
    except (OSError, ValueError):
        log = []
    try:
        epochs = int((yaml.safe_load((out / CONFIG_NAME).read_text()) or {})["epochs"])
    except (OSError, KeyError, TypeError, ValueError, yaml.YAMLError):
        epochs = None
    return log, epochs


def _progress(total: int, desc: str, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, leave=False, dynamic_ncols=True, mininterval=0.5)

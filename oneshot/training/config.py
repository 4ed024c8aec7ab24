"""``TrainConfig``: every knob of supernet training, validated, JSON/YAML-able.

Defaults are the recognised single-path recipe (SGD momentum 0.9, cosine schedule, label smoothing
0.1, weight decay 4e-5; OSNASLib's CIFAR values), with batch size and learning rate chosen so the
CPU demo (``tiny`` on ``digits``) learns within three epochs. The CLI turns flags and YAML into one
of these; library code never sees argparse.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from oneshot.errors import ConfigError
from oneshot.sampling import SAMPLERS

SCHEDULES = ("cosine", "step", "constant")
DEVICES = ("cpu", "cuda", "auto")


@dataclass
class TrainConfig:
    """Resolved training configuration (saved in every checkpoint and as ``config.yaml``)."""

    space: Any = "tiny"               # a name, space file or plugin, or a recorded description (dict)
    space_options: dict[str, Any] = field(default_factory=dict)
    data: str = "digits"
    resolution: int | None = None     # None: the dataset's default (16 for digits, 32 otherwise)
    val_fraction: float = 0.1
    train_fraction: float = 1.0       # share of the (post-validation) training images used; < 1 for data-budget studies
    download: bool = False
    sampling: str = "fair"           # ranked NAS-Bench-Macro better than uniform at equal compute (docs/ranking.md)
    fair_paths: int | None = None     # fair: paths per step; None = the largest choice count (FairNAS)
    epochs: int | None = None         # None: per dataset (below)
    batch_size: int | None = None     # global batch (split across DDP ranks); None: per dataset (below)
    lr: float = 0.05                  # OSNASLib's CIFAR value is 0.045 at batch 128; see DATA_DEFAULTS
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float = 4e-5        # conv / linear weights only (not BN or biases)
    label_smoothing: float = 0.1
    schedule: str = "cosine"          # per-step cosine to min_lr after warmup
    warmup_epochs: float = 0.0
    min_lr: float = 0.0
    step_epochs: int = 30             # step schedule: lr x 0.1 every step_epochs
    grad_clip: float | None = 5.0     # max global grad norm; None to disable
    augment: bool | None = None       # random crop (+ flip); None: per dataset (off for digits)
    cutout: int = 0                   # side in pixels of the square Cutout zeroes per image; 0 = off
    trivial_augment: bool = False     # one random TrivialAugment operation per training image
    distill: float = 0.0              # weight of in-place distillation from the largest path; 0 = off
    seed: int = 0
    device: str = "auto"              # auto: cuda when available
    amp: bool | None = None           # None: on for CUDA (bf16 where supported, else fp16 + scaler)
    channels_last: bool | None = None  # None: on for CUDA
    eval_paths: int = 4               # fixed sampled paths scored on val after every epoch
    bn_calib_images: int = 512        # training images used to recalibrate BN before scoring a path
    eval_batch_size: int = 256
    progress: bool = True
    threads: int | None = None        # CPU intra-op threads; None: 1 (see DATA_DEFAULTS note)

    # ------------------------------------------------------------- checks
    def validate(self) -> "TrainConfig":
        """Raise ``ConfigError`` naming the first bad value and what would be valid."""
        def need(cond: bool, msg: str) -> None:
            if not cond:
                raise ConfigError(msg)

        need(self.sampling in SAMPLERS, f"--sampling {self.sampling!r} is unknown; valid: {', '.join(SAMPLERS.names())}")
        need(self.schedule in SCHEDULES, f"--schedule {self.schedule!r} is unknown; valid: {', '.join(SCHEDULES)}")
        need(self.device in DEVICES or self.device.startswith("cuda:"),
             f"--device {self.device!r} is unknown; valid: cpu, cuda, cuda:N, auto")
        need(self.epochs is None or (isinstance(self.epochs, int) and self.epochs >= 1),
             f"--epochs must be >= 1, got {self.epochs!r}")
        need(self.batch_size is None or (isinstance(self.batch_size, int) and self.batch_size >= 1),
             f"--batch-size must be >= 1, got {self.batch_size!r}")
        need(self.lr > 0, f"--lr must be > 0, got {self.lr}")
        need(0 <= self.momentum < 1, f"--momentum must be in [0, 1), got {self.momentum}")
        need(self.weight_decay >= 0, f"--weight-decay must be >= 0, got {self.weight_decay}")
        need(0 <= self.label_smoothing < 1, f"--label-smoothing must be in [0, 1), got {self.label_smoothing}")
        need(0 <= self.warmup_epochs and (self.epochs is None or self.warmup_epochs < self.epochs),
             f"--warmup-epochs must be in [0, epochs={self.epochs}), got {self.warmup_epochs}")
        need(0 <= self.min_lr <= self.lr, f"--min-lr must be in [0, lr={self.lr}], got {self.min_lr}")
        need(self.step_epochs >= 1, f"--step-epochs must be >= 1, got {self.step_epochs}")
        need(self.grad_clip is None or self.grad_clip > 0, f"--grad-clip must be > 0, got {self.grad_clip}")
        need(0 < self.val_fraction < 1, f"--val-fraction must be in (0, 1), got {self.val_fraction}")
        need(0 < self.train_fraction <= 1, f"--train-fraction must be in (0, 1], got {self.train_fraction}")
        need(self.fair_paths is None or self.fair_paths >= 1, f"--fair-paths must be >= 1, got {self.fair_paths}")
        need(isinstance(self.cutout, int) and self.cutout >= 0, f"--cutout must be an integer >= 0 pixels, got {self.cutout!r}")
        need(0 <= self.distill <= 1, f"--distill must be in [0, 1] (0 = off, 1 = teacher only), got {self.distill}")
        need(self.eval_paths >= 0, f"--eval-paths must be >= 0, got {self.eval_paths}")
        need(self.bn_calib_images >= 0, f"--bn-calib-images must be >= 0, got {self.bn_calib_images}")
        need(self.eval_batch_size >= 1, f"--eval-batch-size must be >= 1, got {self.eval_batch_size}")
        need(self.resolution is None or (isinstance(self.resolution, int) and self.resolution >= 8),
             f"--resolution must be an integer >= 8, got {self.resolution!r}")
        need(self.threads is None or self.threads >= 1, f"--threads must be >= 1, got {self.threads}")
        need(isinstance(self.space, str) or (isinstance(self.space, dict) and "name" in self.space),
             "space must be a space name, file or plugin target, or a recorded space description")
        need(isinstance(self.space_options, dict), "space_options must be a mapping of option -> value")
        return self

    # ---------------------------------------------------------- (de)serialise
    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "TrainConfig":
        """Build from a mapping (YAML, checkpoint); unknown keys are an error listing the valid ones."""
        valid = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - valid)
        if unknown:
            raise ConfigError(f"unknown training option(s) {unknown}; valid: {', '.join(sorted(valid))}")
        return cls(**data).validate()

    # Options that do not change what is computed, so a resumed run may change them.
    RUNTIME_KEYS = ("device", "progress", "eval_batch_size", "download", "threads")

    def resolve_data_defaults(self, data_kind: str) -> "TrainConfig":
        """Fill ``epochs`` / ``batch_size`` / ``augment`` left as None with the dataset's defaults (in
        place), then check again (a warm-up must still end before the resolved epochs)."""
        defaults = DATA_DEFAULTS.get(data_kind, DATA_DEFAULTS["*"])
        for key in ("epochs", "batch_size", "augment"):
            if getattr(self, key) is None:
                setattr(self, key, defaults[key])
        return self.validate()


#: Per-dataset training defaults. Measured on the CPU demo (tiny, digits, fair, 3 epochs): a
#: supernet whose six layers all change every step needs a few hundred steps before its shared
#: head can read the features of every candidate, so digits trains with batch 16 (84 steps per
#: epoch) and without crops (8x8 digits upsampled to 16 px lose strokes when shifted; with crops
#: the same 3 epochs reach about half the accuracy). lr 0.05 beat 0.1 and 0.025 there (fair sampling
#: sums M path gradients into the shared stem and head). CIFAR-like data get batch 128 + crops.
#: On CPU one intra-op thread is the default: these small networks are dominated by per-op
#: overhead, and on a shared 2-core machine two threads ran the demo 5x slower than one.
#: Epochs: 3 make the digits demo; other data get the shipped ranking recipe's 20, measured on
#: NAS-Bench-Macro's CIFAR-10 subset (docs/ranking.md, ablations 41-42: fair for 20 epochs ranked
#: better than 10 on all three seeds retrained there).
DATA_DEFAULTS = {
    "digits": {"epochs": 3, "batch_size": 16, "augment": False},
    "*": {"epochs": 20, "batch_size": 128, "augment": True},
}

"""``oneshot train-supernet``: train a weight-sharing supernet with single-path sampling.

Option precedence: built-in defaults < ``--config YAML`` < flags given on the command line. Every
flag defaults to None here so we know which ones the user set (``--resume`` checks those against the
stored run). Torch is imported only inside ``run``.
"""
from __future__ import annotations

import argparse

from oneshot.sampling import SAMPLERS

# flag -> (TrainConfig field, type, help); booleans get --x / --no-x pairs below
_OPTIONS = [
    ("--space", "space", str, "search space: a name (see `oneshot spaces`; default tiny), a space file PATH.yaml|.json, or package.module:factory"),
    ("--data", "data", str, "digits (embedded, default) | npz:PATH | cifar10:ROOT | cifar100:ROOT | imagefolder:ROOT"),
    ("--resolution", "resolution", int, "input size (default: 16 for digits, 32 otherwise; fixed-size spaces keep theirs)"),
    ("--val-fraction", "val_fraction", float, "share of the training images held out for validation (default 0.1)"),
    ("--train-fraction", "train_fraction", float, "share of the remaining training images to train on, stratified "
     "and seeded (default 1.0 = all; < 1 for data-budget studies on the same validation images)"),
    ("--sampling", "sampling", str, f"{SAMPLERS.help_text()} (default fair: it ranked "
     "NAS-Bench-Macro networks better than uniform at equal compute; M paths per step cost M times a uniform "
     "step, so give it 1/M of uniform's epochs)"),
    ("--fair-paths", "fair_paths", int, "fair: paths per step (default: the largest choice count, FairNAS's M)"),
    ("--epochs", "epochs", int, "training epochs (default: 3 for digits; 20 otherwise, the recipe that ranked "
     "NAS-Bench-Macro best, see docs/ranking.md)"),
    ("--batch-size", "batch_size", int, "global batch size, split across DDP ranks (default: 16 for digits, 128 otherwise)"),
    ("--lr", "lr", float, "peak learning rate of SGD (default 0.05)"),
    ("--momentum", "momentum", float, "SGD momentum (default 0.9)"),
    ("--weight-decay", "weight_decay", float, "weight decay on conv/linear weights (default 4e-5)"),
    ("--label-smoothing", "label_smoothing", float, "label smoothing (default 0.1)"),
    ("--schedule", "schedule", str, "cosine | step | constant, per step (default cosine)"),
    ("--warmup-epochs", "warmup_epochs", float, "linear warmup epochs (default 0)"),
    ("--min-lr", "min_lr", float, "cosine floor (default 0)"),
    ("--step-epochs", "step_epochs", int, "step schedule: lr x 0.1 every N epochs (default 30)"),
    ("--grad-clip", "grad_clip", float, "max gradient norm, 0 to disable (default 5)"),
    ("--cutout", "cutout", int, "Cutout: zero one random square of this many pixels per training image (default 0 = off)"),
    ("--distill", "distill", float, "in-place distillation: each sampled path also learns the soft predictions "
     "of the largest path (forward only, so fairness holds); its loss is (1-W) x label loss + W x KL (default 0 = off)"),
    ("--seed", "seed", int, "seed of weights, batches, augmentation, paths and the val split (default 0)"),
    ("--device", "device", str, "cpu | cuda | cuda:N | auto (default auto: cuda when available)"),
    ("--eval-paths", "eval_paths", int, "fixed paths scored on val after each epoch (default 4)"),
    ("--bn-calib-images", "bn_calib_images", int, "training images for BN recalibration before scoring (default 512)"),
    ("--eval-batch-size", "eval_batch_size", int, "batch size for scoring (default 256)"),
    ("--threads", "threads", int, "CPU threads for torch (default 1: small networks gain nothing from more)"),
]
_FLAGS = [  # (name, field, help for --name)
    ("nesterov", "nesterov", "Nesterov momentum"),
    ("augment", "augment", "random crop (+ flip where labels allow) during training (default: off for digits, else on)"),
    ("trivial-augment", "trivial_augment", "TrivialAugment: one random photometric or geometric operation per "
     "training image, after the crop and flip (default off)"),
    ("amp", "amp", "mixed precision (default: on for CUDA; bf16 where supported)"),
    ("channels-last", "channels_last", "channels_last memory format (default: on for CUDA)"),
    ("progress", "progress", "progress bar (default on)"),
    ("download", "download", "let torchvision download CIFAR when missing (needs internet)"),
]


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train-supernet", help="train a supernet (uniform / fair / roundrobin single-path sampling)",
        description="Train a weight-sharing supernet with single-path sampling and write OUT/supernet.pt "
                    "(self-describing, written atomically every epoch), OUT/train_log.jsonl and "
                    "OUT/config.yaml. Multi-GPU: torchrun --nproc_per_node N -m oneshot train-supernet ...",
        epilog="example: oneshot train-supernet --space tiny --data digits --sampling fair --epochs 3 --out runs/demo")
    p.add_argument("--out", required=True, help="run directory (holds supernet.pt, train_log.jsonl, config.yaml)")
    p.add_argument("--config", help="YAML file of defaults (keys = the option names with underscores)")
    p.add_argument("--option", "-o", action="append", default=None, metavar="KEY=VALUE",
                   help="space option, e.g. -o width=1.0 (repeatable)")
    for flag, dest, typ, text in _OPTIONS:
        p.add_argument(flag, dest=dest, type=typ, default=None, help=text,
                       **({"choices": SAMPLERS.names()} if dest == "sampling" else {}))
    for name, dest, text in _FLAGS:
        p.add_argument(f"--{name}", dest=dest, action=argparse.BooleanOptionalAction, default=None, help=text)
    few = p.add_argument_group("few-shot supernet (Zhao et al. 2021): after training, split on one dimension")
    few.add_argument("--split", metavar="DIM", default=None,
                     help="dimension name (or index) to split on, e.g. l0: one sub-supernet per choice, each "
                          "fine-tuned from the trained weights with that choice fixed; writes OUT/few_shot.json, "
                          "which search and eval-ranking take as --supernet")
    few.add_argument("--split-epochs", type=int, default=None, metavar="E",
                     help="fine-tuning epochs of each sub-supernet (default: a tenth of --epochs, at least 1)")
    few.add_argument("--split-lr", type=float, default=None, metavar="LR",
                     help="peak lr of the fine-tuning (default: the run's --lr)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--stop-after", type=int, default=None, metavar="N",
                   help="stop this invocation after N epochs (preemptible jobs; continue with --resume)")
    p.set_defaults(func=run)


def collect_config(args: argparse.Namespace) -> tuple[dict, set[str]]:
    """Defaults < YAML < flags: the mapping for ``TrainConfig.from_dict`` and the keys the user set."""
    from oneshot.errors import ConfigError

    values: dict = {}
    if args.config:
        import yaml

        try:
            with open(args.config, encoding="utf-8") as f:
                loaded = yaml.safe_load(f) or {}
        except FileNotFoundError:
            raise ConfigError(f"--config {args.config}: file not found") from None
        except yaml.YAMLError as exc:
            raise ConfigError(f"--config {args.config}: not valid YAML ({str(exc).splitlines()[0]})") from None
        if not isinstance(loaded, dict):
            raise ConfigError(f"--config {args.config}: expected a mapping of option: value")
        values.update({k.replace("-", "_"): v for k, v in loaded.items()})
    for _, dest, *_ in _OPTIONS:
        if getattr(args, dest) is not None:
            values[dest] = getattr(args, dest)
    for _, dest, _ in _FLAGS:
        if getattr(args, dest) is not None:
            values[dest] = getattr(args, dest)
    if args.option:
        from .options import parse_key_values

        values["space_options"] = {**values.get("space_options", {}), **parse_key_values(args.option, "space option", "resolution=32")}
    if values.get("grad_clip") == 0:
        values["grad_clip"] = None
    return values, set(values)


def run(args: argparse.Namespace) -> int:
    from oneshot.training import TrainConfig, train_supernet

    from oneshot.errors import ConfigError

    values, explicit = collect_config(args)
    config = TrainConfig.from_dict(values)
    if args.split is None and (args.split_epochs is not None or args.split_lr is not None):
        raise ConfigError("--split-epochs / --split-lr fine-tune a few-shot split: add --split DIM")
    if args.split_epochs is not None and args.split_epochs < 1:
        raise ConfigError(f"--split-epochs must be >= 1, got {args.split_epochs}")
    if args.split_lr is not None and args.split_lr <= 0:
        raise ConfigError(f"--split-lr must be > 0, got {args.split_lr}")
    if args.split is not None and not args.resume:  # check the dimension before hours of training
        from oneshot.training.few_shot import resolve_dimension
        from oneshot.training.loop import build_space
        from oneshot.data import parse_spec

        resolve_dimension(build_space(TrainConfig.from_dict(values), parse_spec(config.data)[0])[0], args.split)
    result = train_supernet(config, args.out, resume=args.resume, explicit=explicit, stop_after=args.stop_after)
    if args.split is not None:
        from oneshot.checkpoint import load_checkpoint
        from oneshot.training.few_shot import train_few_shot

        planned = int(load_checkpoint(result.checkpoint)["config"]["epochs"])
        if result.epochs_done < planned:
            print(f"few-shot split waits until the {planned} epochs are done (--resume with --split)")
            return 0
        epochs = args.split_epochs or max(1, round(planned / 10))
        train_few_shot(result.checkpoint, args.out, args.split, epochs, lr=args.split_lr,
                       progress=config.progress)
    return 0


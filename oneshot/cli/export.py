"""``oneshot export``: one architecture (from a search's front, or a key + supernet) as a model directory."""
from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("export", help="export one architecture as a standalone model directory",
                       description="Write ARCH's network as a directory: arch.json + space.json, weights.pt "
                                   "(state dict, weights_only-loadable), model.ts (TorchScript) and model.onnx "
                                   "(when onnx is installed). Load it with oneshot.load_model(DIR); no "
                                   "supernet is needed afterwards.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--from", dest="front", metavar="RUN/pareto.csv",
                     help="a search's pareto.csv (or its run directory); pick a row with --rank")
    src.add_argument("--arch", help="architecture key / indices / name=label pairs, TuNAS indices or an OFA .json file (needs --supernet)")
    p.add_argument("--rank", type=int, default=0, help="row of pareto.csv, 0-based (default 0)")
    p.add_argument("--supernet", metavar="CKPT",
                   help="supernet checkpoint (default with --from: the one the search recorded in search.json)")
    p.add_argument("--init", choices=("inherit", "random"), default="inherit",
                   help="inherit the supernet's weights (default) or a fresh seeded init to retrain from scratch")
    p.add_argument("--seed", type=int, default=0, help="seed of --init random")
    p.add_argument("--out", required=True, help="output directory")
    p.add_argument("--no-torchscript", action="store_true", help="skip model.ts")
    p.add_argument("--onnx", choices=("auto", "yes", "no"), default="auto",
                   help="ONNX export: auto = when the onnx package is installed (default)")
    p.add_argument("--force", action="store_true", help="replace an existing export in --out")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from oneshot.errors import ConfigError
    from oneshot.provenance import file_sha256
    from oneshot.export import architecture_from_front, export_from_supernet, scoring_of_run, supernet_of_run

    provenance = {}
    supernet = args.supernet
    scoring = None
    if args.front:
        front = Path(args.front)
        key, row = architecture_from_front(front, args.rank)
        run_dir = front if front.is_dir() else front.parent
        recorded = scoring_of_run(run_dir)
        if supernet and recorded and recorded.get("sha256") and Path(supernet).is_file() \
                and not file_sha256(supernet).startswith(recorded["sha256"]) and not args.force:
            raise ConfigError(f"--supernet {supernet} is not the checkpoint the search in {run_dir} scored "
                              f"(sha256 differs); drop --supernet to use the run's own, or pass --force")
        supernet = supernet or supernet_of_run(run_dir)
        if supernet is None:
            raise ConfigError(f"{run_dir}/search.json names no supernet (a tabular search?); pass --supernet CKPT")
        scoring = recorded["options"] if recorded else None
        provenance = {"front": str(front), "rank": args.rank, "front_row": row}
        arch = key
    else:
        if not supernet:
            raise ConfigError("--arch needs --supernet CKPT (the checkpoint whose weights to export)")
        arch = args.arch
    onnx = {"auto": None, "yes": True, "no": False}[args.onnx]
    result = export_from_supernet(supernet, arch, args.out, init=args.init, seed=args.seed, provenance=provenance,
                                  torchscript=not args.no_torchscript, onnx=onnx, overwrite=args.force,
                                  scoring=scoring)
    print(f"exported {result.key} ({args.init} weights) to {result.directory}/")
    for name, rel in result.files.items():
        print(f"  {name:<12} {result.directory / rel}")
    for name, why in result.skipped.items():
        print(f"  {name:<12} skipped: {why}")
    print(f"load it with: oneshot.load_model({str(result.directory)!r})")
    return 0

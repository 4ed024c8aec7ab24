"""Export one architecture as a standalone model directory, and load it back without a supernet.

A model directory holds everything needed to use or retrain the network, in formats that need no
``oneshot`` code where possible::

    arch.json     the architecture (indices, key, readable form), its space, costs and provenance
    space.json    the space description (``SearchSpace.to_json``), rebuilt by ``space_from_json``
    weights.pt    the state dict (plain tensors: ``torch.load(..., weights_only=True)`` reads it)
    model.ts      TorchScript (``torch.jit.load``), for C++ / mobile runtimes
    model.onnx    ONNX with a dynamic batch axis, when the ``onnx`` package is installed

``arch.json`` is written last, so a directory with an ``arch.json`` is a complete export.
``load_model(dir)`` rebuilds the network from ``space.json`` + ``arch.json`` through the space
registry and loads ``weights.pt``: the supernet is never needed again.
"""
from __future__ import annotations

import csv
import json
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

from oneshot.atomic import atomic_open, atomic_write_bytes
from oneshot.provenance import file_sha256, versions

EXPORT_FORMAT = 1
ARCH_FILE = "arch.json"
SPACE_FILE = "space.json"
WEIGHTS_FILE = "weights.pt"
TORCHSCRIPT_FILE = "model.ts"
ONNX_FILE = "model.onnx"
INIT_CHOICES = ("inherit", "random")


@dataclass
class ExportResult:
    """Where an export went and what it holds (``skipped`` maps a format to the reason it is absent)."""

    directory: Path
    files: dict[str, str]
    arch: tuple[int, ...]
    key: str
    skipped: dict[str, str] = field(default_factory=dict)


# ----------------------------------------------------------------------------- small helpers
def _atomic_write(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, world-readable: a model directory is meant to be shared."""
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, data, mode=0o644)


def onnx_available() -> bool:
    """True when the optional ``onnx`` package (``pip install oneshot[onnx]``) is importable."""
    try:
        import onnx  # noqa: F401
    except ImportError:
        return False
    return True


# ----------------------------------------------------------------------------- export
def export_network(net: Any, space: Any, out_dir: str | os.PathLike, *,
                   provenance: dict[str, Any] | None = None, torchscript: bool = True,
                   onnx: bool | None = None, overwrite: bool = False) -> ExportResult:
    """Write ``net`` (a ``SubNetwork`` of ``space``) as a model directory.

    ``onnx=None`` exports ONNX only when the package is installed; ``onnx=True`` insists. An existing
    export in ``out_dir`` is replaced only with ``overwrite=True`` (so a typo cannot clobber a model).
    """
    import torch

    from oneshot.costs.counting import flops_params_table
    from oneshot.errors import ConfigError

    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ConfigError(f"export target {out} is a file; give a directory path")
    if (out / ARCH_FILE).exists() and not overwrite:
        raise ConfigError(f"{out} already holds an exported model; pass --force (overwrite=True) to replace it "
                          f"or choose another --out")
    if onnx and not onnx_available():
        raise ConfigError("ONNX export asked for but the 'onnx' package is not installed: "
                          "pip install 'oneshot[onnx]'")
    out.mkdir(parents=True, exist_ok=True)
    arch = tuple(int(i) for i in space.validate(net.arch))
    net = net.cpu().eval()
    files: dict[str, str] = {}
    skipped: dict[str, str] = {}

    _atomic_write(out / SPACE_FILE, json.dumps(space.to_json(), indent=2).encode())
    files["space"] = SPACE_FILE
    state = {k: v.detach().clone().contiguous() for k, v in net.state_dict().items()}
    with atomic_open(out / WEIGHTS_FILE, binary=True, mode=0o644) as fh:
        torch.save(state, fh)
    files["weights"] = WEIGHTS_FILE

    example = torch.zeros(1, 3, space.resolution, space.resolution)
    if torchscript:
        _atomic_write(out / TORCHSCRIPT_FILE, _torchscript_bytes(net, example))
        files["torchscript"] = TORCHSCRIPT_FILE
    want_onnx = onnx_available() if onnx is None else onnx
    if want_onnx:
        _atomic_write(out / ONNX_FILE, _onnx_bytes(net, example))
        files["onnx"] = ONNX_FILE
    else:
        skipped["onnx"] = ("not asked for" if onnx is False
                           else "the 'onnx' package is not installed (pip install 'oneshot[onnx]')")

    costs = flops_params_table(space).price_one(arch)
    record = {
        "format": EXPORT_FORMAT,
        "space_name": space.name,
        "space_fingerprint": space.fingerprint(),
        "arch": list(arch),
        "key": space.key(arch),
        "readable": space.format(arch),
        "resolution": space.resolution,
        "num_classes": space.num_classes,
        "input": _input_description(space, (provenance or {}).get("data")),
        "costs": {"macs": float(costs["macs"]), "params": float(costs["params"])},
        "files": {name: {"path": rel, "sha256": file_sha256(out / rel)} for name, rel in files.items()},
        "skipped": skipped,
        "provenance": provenance or {},
        "versions": versions(),
    }
    _atomic_write(out / ARCH_FILE, json.dumps(record, indent=2, default=str).encode())
    files["arch"] = ARCH_FILE
    return ExportResult(out, files, arch, record["key"], skipped)


def _input_description(space: Any, data_info: dict[str, Any] | None) -> dict[str, Any]:
    """What the network expects: NCHW float32 images normalised as in training, ``(x/255 - mean) / std``."""
    desc: dict[str, Any] = {"shape": [None, 3, space.resolution, space.resolution], "dtype": "float32",
                            "layout": "NCHW", "normalisation": "(pixel / 255 - mean) / std per channel"}
    if isinstance(data_info, dict) and "mean" in data_info and "std" in data_info:
        desc["mean"], desc["std"] = list(data_info["mean"]), list(data_info["std"])
    return desc


def _torchscript_bytes(net: Any, example: Any) -> bytes:
    """TorchScript by tracing (every built-in op is static given the input size; the batch stays dynamic)."""
    import io

    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch.jit deprecation notices are not the user's concern
        with torch.no_grad():
            traced = torch.jit.trace(net, example, check_trace=False)
        buf = io.BytesIO()
        torch.jit.save(traced, buf)
    return buf.getvalue()


def _onnx_bytes(net: Any, example: Any) -> bytes:
    """ONNX (opset 17) with a dynamic batch axis; the TorchScript-based exporter needs no onnxscript."""
    import io

    import torch

    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with torch.no_grad():
            torch.onnx.export(net, (example,), buf, dynamo=False, opset_version=17,
                              input_names=["input"], output_names=["logits"],
                              dynamic_axes={"input": {0: "batch"}, "logits": {0: "batch"}})
    return buf.getvalue()


# ----------------------------------------------------------------------------- load
def read_export(model_dir: str | os.PathLike) -> dict[str, Any]:
    """The ``arch.json`` record of a model directory (raises ConfigError naming what is missing)."""
    from oneshot.errors import ConfigError

    d = Path(model_dir)
    path = d / ARCH_FILE
    if not path.is_file():
        raise ConfigError(f"{d} is not an exported oneshot model: {ARCH_FILE} is missing "
                          f"(create one with `oneshot export`)")
    try:
        record = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not valid JSON ({exc}); re-export the model") from exc
    if record.get("format") != EXPORT_FORMAT:
        raise ConfigError(f"{path} has export format {record.get('format')!r}; this oneshot reads format "
                          f"{EXPORT_FORMAT}")
    return record


def load_model(model_dir: str | os.PathLike, *, device: str = "cpu", verify: bool = True) -> Any:
    """Load an exported model directory as a ``SubNetwork`` in eval mode; no supernet needed.

    The network is rebuilt from ``space.json`` and the architecture through the space registry and
    the weights are read with ``weights_only=True``; ``verify`` checks the weights file's hash first.
    """
    import torch

    from oneshot.errors import ConfigError
    from oneshot.spaces.core import space_from_json
    from oneshot.spaces.network import build_network

    d = Path(model_dir)
    record = read_export(d)
    space = space_from_json(json.loads((d / SPACE_FILE).read_text()))
    if space.fingerprint() != record["space_fingerprint"]:
        raise ConfigError(f"{d / SPACE_FILE} does not match the space {ARCH_FILE} was exported from; re-export")
    weights = d / record["files"]["weights"]["path"]
    if not weights.resolve().is_relative_to(d.resolve()):  # never follow a path out of the model folder
        raise ConfigError(f"{d / ARCH_FILE} names weights {record['files']['weights']['path']!r} outside the "
                          f"model directory; refusing to load them (re-export the model)")
    if verify and file_sha256(weights) != record["files"]["weights"]["sha256"]:
        raise ConfigError(f"{weights} does not match the hash recorded in {ARCH_FILE} (changed or truncated); "
                          f"re-export the model or pass verify=False")
    net = build_network(space, record["arch"])
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        net.load_state_dict(state)
    except (RuntimeError, EOFError, OSError) as exc:  # torch raises RuntimeError for bad zip files / keys
        raise ConfigError(f"cannot load weights from {weights}: {str(exc).splitlines()[0]}") from exc
    except Exception as exc:  # noqa: BLE001 - weights_only refuses pickled code with UnpicklingError
        raise ConfigError(f"cannot load weights from {weights}: they need code execution to load "
                          f"({type(exc).__name__}); only plain tensors are accepted, re-export the model") from None
    return net.to(device).eval()


# ----------------------------------------------------------------------------- sources
def architecture_from_front(pareto_csv: str | os.PathLike, rank: int) -> tuple[str, dict[str, str]]:
    """Row ``rank`` (0-based, file order) of a search's ``pareto.csv``: (architecture key, the row)."""
    from oneshot.errors import ConfigError

    path = Path(pareto_csv)
    if path.is_dir():
        path = path / "pareto.csv"
    if not path.is_file():
        raise ConfigError(f"{path} does not exist; give RUN/pareto.csv written by `oneshot search`")
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise ConfigError(f"{path} holds no architectures")
    if not 0 <= rank < len(rows):
        raise ConfigError(f"--rank {rank} is out of range: {path} holds {len(rows)} architectures (0..{len(rows) - 1})")
    row = rows[rank]
    for column in ("key", "arch", "architecture"):
        if row.get(column):
            return row[column], row
    raise ConfigError(f"{path} has no 'key' column; columns are {', '.join(rows[0])}")


def supernet_of_run(run_dir: str | os.PathLike) -> str | None:
    """The supernet checkpoint a search run recorded in its ``search.json`` (None if it has none).

    Raises ConfigError when the file there no longer has the hash the search recorded: exporting
    weights the search never scored would silently mislabel the model.
    """
    from oneshot.errors import ConfigError

    path = Path(run_dir) / "search.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    identity = data.get("identity") or {}
    recorded = (identity.get("files") or {}).get("supernet") or {}
    candidates = [recorded.get("path"), ((identity.get("evaluator") or {}).get("options") or {}).get("checkpoint"),
                  data.get("supernet") if isinstance(data.get("supernet"), str) else None]
    for candidate in candidates:
        if not candidate:
            continue
        p = Path(candidate)
        if not p.is_absolute() and not p.exists():
            p = Path(run_dir) / p
        want = recorded.get("sha256")
        if want and p.is_file() and file_sha256(p) != want:
            raise ConfigError(f"{p} changed since the search in {run_dir} scored it (sha256 differs); "
                              f"pass the original checkpoint with --supernet")
        return str(p)
    return None


def scoring_of_run(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """How a search scored its architectures (the supernet evaluator's options in ``search.json``:
    BN policy, calibration subset and seed, validation images) and the checkpoint hash it recorded."""
    path = Path(run_dir) / "search.json"
    if not path.is_file():
        return None
    data = json.loads(path.read_text())
    identity = data.get("identity") or {}
    evaluator = identity.get("evaluator") or {}
    if evaluator.get("kind") != "supernet":
        return None
    return {"options": dict(evaluator.get("options") or {}),
            "sha256": ((identity.get("files") or {}).get("supernet") or {}).get("sha256")}


def export_from_supernet(checkpoint: str | os.PathLike, arch: Sequence[int] | str, out_dir: str | os.PathLike, *,
                         init: str = "inherit", seed: int = 0, provenance: dict[str, Any] | None = None,
                         torchscript: bool = True, onnx: bool | None = None,
                         overwrite: bool = False, scoring: dict[str, Any] | None = None) -> ExportResult:
    """Export ``arch`` of the supernet in ``checkpoint``: inherited weights (``init="inherit"``) or a
    fresh He-initialised network (``init="random"``, seeded) for retraining from scratch.

    ``scoring`` (the supernet evaluator options a search used, see ``scoring_of_run``) makes the
    inherited network carry the BN statistics that search scored it with (``ema`` / ``exact``
    recalibration on the same calibration subset), so the exported model scores exactly what the
    search recorded on the same validation split."""
    import torch

    from oneshot.checkpoint import load_supernet
    from oneshot.errors import ConfigError
    from oneshot.spaces.network import build_network

    if init not in INIT_CHOICES:
        raise ConfigError(f"unknown --init {init!r}; valid: {', '.join(INIT_CHOICES)}")
    from oneshot.training.few_shot import is_manifest, load_manifest

    if is_manifest(checkpoint):  # a few-shot supernet: export from the sub-supernet of this architecture
        from oneshot.spaces.core import space_from_json

        manifest = load_manifest(checkpoint)
        space = space_from_json(manifest["space"])
        parsed = space.parse(arch) if isinstance(arch, str) else space.validate(arch)
        checkpoint = manifest["supernets"][int(parsed[int(manifest["split_dim"])])]
    supernet, meta = load_supernet(str(checkpoint), device="cpu")
    space = supernet.space
    arch = space.parse(arch) if isinstance(arch, str) else space.validate(arch)
    bn_record: dict[str, Any] = {"policy": "none", "note": "statistics from supernet training"}
    net = None
    if init == "inherit" and scoring and scoring.get("bn_policy", "exact") in ("ema", "exact"):
        from oneshot.evaluation.supernet_evaluator import SupernetEvaluator

        keep = ("bn_policy", "calib_images", "calib_batch", "val_images", "eval_batch", "seed", "data")
        ev = SupernetEvaluator(str(checkpoint), engine=False, **{k: v for k, v in scoring.items() if k in keep})
        ev._calibrate(arch, ev._path_bns(arch))  # the search's recalibration, left in the modules
        net = ev._net(arch).extract(arch)
        bn_record = {"policy": ev.bn_policy, "calib_images": ev.describe()["calib_images"],
                     "calib_batch": ev.describe()["calib_batch"], "calib_seed": ev.describe()["calib_seed"]}
        ev.close()
    elif init == "inherit" and scoring:
        bn_record = {"policy": scoring.get("bn_policy"),
                     "note": "the search scored with batch statistics (train-mode) or the stored ones (none); "
                             "the export carries the statistics from supernet training"}
    if init == "inherit":
        net = net if net is not None else supernet.extract(arch)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = build_network(space, arch)
    prov = {"supernet": str(checkpoint), "supernet_sha256": file_sha256(checkpoint), "init": init,
            "data": meta.get("data"), "train_config": meta.get("config")}
    if init == "inherit":
        prov["bn"] = bn_record
    if init == "random":
        prov["seed"] = seed
    prov.update(provenance or {})
    return export_network(net, space, out_dir, provenance=prov, torchscript=torchscript, onnx=onnx,
                          overwrite=overwrite)

"""Architectures in the forms other projects publish them, read wherever an architecture is parsed.

``SearchSpace.parse`` asks ``read_form`` first, so every command that takes an architecture
(``arch-info``, ``lut show --arch``, ``export --arch``, ...) accepts:

- TuNAS ``indices`` strings for ``tunas-proxylessnas``: 73 colon-separated integers (``encodings``);
- for ``mobilenetv3``, a path to a ``.json`` file (or inline JSON) holding either an OFA ``net.config``
  (the JSON OFA publishes with each specialized MobileNetV3: ``first_conv``, ``blocks``,
  ``final_expand_layer``, ``feature_mix_layer``, ``classifier``) or OFA's ``ks``/``e``/``d`` lists
  (optionally with ``wid`` and ``r``, the form of OFA's sampled sub-network dicts).

A file that states a resolution (``r``, ``resolution`` or ``image_size``) must agree with the space's;
``stated_options`` lets a command that creates the space take it from the file instead.
Framework-free; every error is one line naming the position.
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Sequence

from .core import Architecture, SearchSpace
from .encodings import TUNAS_LENGTH, TUNAS_SPACE, EncodingError, tunas_decode, tunas_encode

OFA_SPACE = "mobilenetv3"
OFA_STAGES, OFA_MAX_DEPTH = 5, 4
OFA_KERNELS, OFA_EXPANDS, OFA_DEPTHS = (3, 5, 7), (3, 4, 6), (2, 3, 4)
#: OFA ``act_func`` names -> our activation names
_OFA_ACTS = {"relu": "relu", "h_swish": "hswish", "relu6": "relu6"}
_TUNAS_RE = re.compile(r"-?\d+(?::-?\d+)+")


def read_form(space: SearchSpace, text: str) -> Architecture | None:
    """The architecture ``text`` describes in a foreign form, or None when it is not one."""
    s = text.strip()
    if _TUNAS_RE.fullmatch(s):
        n = s.count(":") + 1
        if space.name == TUNAS_SPACE and n != len(space.dimensions):
            return tunas_decode(space, s)
        if space.name != TUNAS_SPACE and n == TUNAS_LENGTH and n != len(space.dimensions):
            raise EncodingError(f"{n} colon-separated integers are a TuNAS indices string, which describes "
                                f"space {TUNAS_SPACE!r}, not {space.name!r}")
        return None
    if not (s.startswith("{") or s.lower().endswith(".json")):
        return None
    data, where = _load_json(s)
    if space.name != OFA_SPACE:
        raise EncodingError(f"{where}: OFA net.config and ks/e/d files describe {OFA_SPACE!r} architectures, "
                            f"not {space.name!r}")
    _check_resolution(space, data, where)
    if "blocks" in data or "first_conv" in data:
        return decode_net_config(space, data, where)
    if {"ks", "e", "d"} & set(data):
        return decode_ksed(space, data, where)
    raise EncodingError(f"{where}: neither an OFA net.config (first_conv, blocks, ...) nor a ks/e/d dict; "
                        f"keys: {', '.join(sorted(data)) or 'none'}")


def stated_options(space_name: str, text: str) -> dict[str, Any]:
    """Space options a foreign-form file states (``resolution``; ``width`` from a net.config's stem),
    for commands that create the space themselves. Empty when ``text`` is no such file."""
    s = text.strip()
    if space_name != OFA_SPACE or not (s.startswith("{") or s.lower().endswith(".json")):
        return {}
    data, _ = _load_json(s)
    out: dict[str, Any] = {}
    r = _stated_resolution(data)
    if r is not None:
        out["resolution"] = r
    stem = (data.get("first_conv") or {}).get("out_channels") if isinstance(data.get("first_conv"), dict) else None
    from .builtin.mobilenetv3 import WIDTHS

    width = next((w for w, (c, *_) in WIDTHS.items() if c == stem), None)
    if width is not None:
        out["width"] = width
    return out


def _load_json(s: str) -> tuple[dict[str, Any], str]:
    where = "inline JSON" if s.startswith("{") else s
    if not s.startswith("{"):
        path = Path(s)
        if not path.is_file():
            raise EncodingError(f"architecture file {s} does not exist")
        s = path.read_text()
    try:
        data = json.loads(s)
    except json.JSONDecodeError as exc:
        raise EncodingError(f"{where}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    if not isinstance(data, dict):
        raise EncodingError(f"{where}: expected a JSON object, got {type(data).__name__}")
    return data, where


def _stated_resolution(data: dict[str, Any]) -> int | None:
    for key in ("r", "resolution", "image_size"):
        if key in data and data[key] is not None:
            value = data[key]
            if isinstance(value, list):
                if len(value) != 1:
                    raise EncodingError(f"{key!r} must be one resolution, got {value!r}")
                value = value[0]
            if isinstance(value, bool) or not isinstance(value, int):
                raise EncodingError(f"{key!r} must be an integer resolution, got {value!r}")
            return value
    return None


def _check_resolution(space: SearchSpace, data: dict[str, Any], where: str) -> None:
    r = _stated_resolution(data)
    have = space.options.get("resolution")
    if r is not None and have is not None and r != have:
        raise EncodingError(f"{where} states resolution {r} but the space is at resolution {have} "
                            f"(-o resolution={have}); make them agree")


# ------------------------------------------------------------------------------- OFA ks/e/d
def _slot(space: Any, name: str) -> Any:
    return next(s for s in space.slots if s.name == name)


def _set(space: SearchSpace, labels: dict[str, str]) -> Architecture:
    arch = []
    for d in space.dimensions:
        arch.append(d.choices.index(labels.get(d.name, d.choices[0])))
    return space.canonicalize(space.validate(arch))


def decode_ksed(space: SearchSpace, data: dict[str, Any], where: str = "ks/e/d") -> Architecture:
    """OFA's ``{"ks": [20], "e": [20], "d": [5]}`` (``wid`` null or absent) as a ``mobilenetv3`` arch.
    Entries of blocks beyond a stage's depth are checked but do not change the architecture."""
    wid = data.get("wid")
    if wid is not None:
        raise EncodingError(f"{where}: 'wid' is {wid!r}; OFA MobileNetV3 has no elastic width "
                            "(null), the width is the space option -o width=")
    unknown = set(data) - {"ks", "e", "d", "wid", "r", "resolution", "image_size"}
    if unknown:
        raise EncodingError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}; expected ks, e, d (wid, r)")
    n = OFA_STAGES * OFA_MAX_DEPTH
    lists = {}
    for key, length, valid in (("ks", n, OFA_KERNELS), ("e", n, OFA_EXPANDS), ("d", OFA_STAGES, OFA_DEPTHS)):
        value = data.get(key)
        if not isinstance(value, list):
            raise EncodingError(f"{where}: {key!r} must be a list of {length} integers, got {value!r}")
        if len(value) != length:
            what = "5 stages" if key == "d" else "5 stages x 4 blocks"
            raise EncodingError(f"{where}: {key!r} has {len(value)} entries; OFA MobileNetV3 has {length} ({what})")
        for i, v in enumerate(value):
            if isinstance(v, bool) or v not in valid:
                pos = f"stage {i + 1}" if key == "d" else f"stage {i // OFA_MAX_DEPTH + 1} block {i % OFA_MAX_DEPTH + 1}"
                raise EncodingError(f"{where}: {key}[{i}] ({pos}) is {v!r}; valid: {', '.join(map(str, valid))}")
        lists[key] = value
    labels: dict[str, str] = {}
    for s in range(OFA_STAGES):
        labels[f"s{s + 1}.depth"] = str(lists["d"][s])
        for b in range(OFA_MAX_DEPTH):
            i = s * OFA_MAX_DEPTH + b
            labels[f"s{s + 1}.b{b + 1}"] = f"k{lists['ks'][i]}e{lists['e'][i]}"
    return _set(space, labels)


def ofa_encode(space: SearchSpace, arch: Sequence[int]) -> dict[str, list[int]]:
    """OFA's ``{"ks", "e", "d"}`` lists of a ``mobilenetv3`` architecture (inactive blocks: k3 e3)."""
    if space.name != OFA_SPACE:
        raise EncodingError(f"OFA ks/e/d lists describe {OFA_SPACE!r}, not {space.name!r}")
    arch = space.canonicalize(space.validate(arch))
    labels = dict(zip((d.name for d in space.dimensions), (d.choices[i] for d, i in zip(space.dimensions, arch))))
    ks, e = [], []
    for s in range(1, OFA_STAGES + 1):
        for b in range(1, OFA_MAX_DEPTH + 1):
            k, x = labels[f"s{s}.b{b}"][1:].split("e")
            ks.append(int(k))
            e.append(int(x))
    return {"ks": ks, "e": e, "d": [int(labels[f"s{s}.depth"]) for s in range(1, OFA_STAGES + 1)]}


# ------------------------------------------------------------------------------ OFA net.config
def _field(layer: Any, key: str, where: str) -> Any:
    if not isinstance(layer, dict) or key not in layer:
        raise EncodingError(f"{where}: missing {key!r}")
    return layer[key]


def _check_fixed(op: Any, layer: Any, where: str, cifar: bool, out_key: str = "out_channels") -> None:
    """A fixed layer of the net.config (stem or head) against the space's operator."""
    out = _field(layer, out_key, where)
    if out != op.cout:
        hint = " (another width: -o width=)" if where.endswith("first_conv") else ""
        raise EncodingError(f"{where}: {out_key} {out}, the {OFA_SPACE} space has {op.cout}{hint}")
    if "stride" in layer and layer["stride"] != op.stride and not (cifar and layer["stride"] == 2):
        raise EncodingError(f"{where}: stride {layer['stride']}, the space has {op.stride}")


def decode_net_config(space: SearchSpace, config: dict[str, Any], where: str = "net.config") -> Architecture:
    """An OFA MobileNetV3 ``net.config`` (specialized network) as a ``mobilenetv3`` architecture: the
    stage depths are the runs of blocks per stage width, every block is checked against the space."""
    name = config.get("name", "MobileNetV3")
    if name != "MobileNetV3":
        raise EncodingError(f"{where}: a {name} net.config; only OFA MobileNetV3 networks are {OFA_SPACE} "
                            "architectures")
    blocks = _field(config, "blocks", where)
    if not isinstance(blocks, list) or not blocks:
        raise EncodingError(f"{where}: 'blocks' must be a non-empty list")
    stem_op = _slot(space, "stem").ops[0]
    cifar = stem_op.stride == 1
    _check_fixed(stem_op, _field(config, "first_conv", where), f"{where}: first_conv", cifar)
    convs = [_block_conv(b, f"{where}: blocks[{i}]") for i, b in enumerate(blocks)]
    first = _slot(space, "first").ops[0]
    if (convs[0].get("out_channels"), convs[0].get("expand_ratio", 1)) != (first.cout, 1):
        raise EncodingError(f"{where}: blocks[0] must be OFA's fixed first block ({first.cin}->{first.cout}, k3, e1)")
    labels: dict[str, str] = {}
    pos = 1
    for s in range(1, OFA_STAGES + 1):
        width = _slot(space, f"s{s}.b1").ops[0].cout
        depth = 0
        while pos < len(convs) and convs[pos].get("out_channels") == width and depth < OFA_MAX_DEPTH:
            depth += 1
            labels[f"s{s}.b{depth}"] = _block_label(space, f"s{s}.b{depth}", convs[pos],
                                                    f"{where}: blocks[{pos}] (stage {s} block {depth})", cifar)
            pos += 1
        if depth not in OFA_DEPTHS:
            got = convs[pos].get("out_channels") if pos < len(convs) else "the end of the blocks"
            raise EncodingError(f"{where}: stage {s} (width {width}) has {depth} block(s) before blocks[{pos}] "
                                f"({got}); valid depths: {', '.join(map(str, OFA_DEPTHS))}")
        labels[f"s{s}.depth"] = str(depth)
    if pos != len(convs):
        raise EncodingError(f"{where}: blocks[{pos}] (out_channels {convs[pos].get('out_channels')}) is left over "
                            "after the last stage")
    _check_fixed(_slot(space, "head0").ops[0], _field(config, "final_expand_layer", where),
                 f"{where}: final_expand_layer", cifar)
    _check_fixed(_slot(space, "head1").ops[0], _field(config, "feature_mix_layer", where),
                 f"{where}: feature_mix_layer", cifar)
    _check_fixed(_slot(space, "classifier").ops[0], _field(config, "classifier", where),
                 f"{where}: classifier", cifar, out_key="out_features")
    return _set(space, labels)


def _block_conv(block: Any, where: str) -> dict[str, Any]:
    conv = block.get("mobile_inverted_conv", block.get("conv")) if isinstance(block, dict) else None
    if not isinstance(conv, dict):
        raise EncodingError(f"{where}: expected a residual block with 'mobile_inverted_conv' (or 'conv')")
    return conv


def _block_label(space: SearchSpace, slot_name: str, conv: dict[str, Any], where: str, cifar: bool) -> str:
    """The ``kKeE`` choice of one MBConv of the net.config, checked against the space's operator."""
    k = _field(conv, "kernel_size", where)
    if k not in OFA_KERNELS:
        raise EncodingError(f"{where}: kernel_size {k!r}; valid: {', '.join(map(str, OFA_KERNELS))}")
    cin = _field(conv, "in_channels", where)
    e, mid = conv.get("expand_ratio"), conv.get("mid_channels")
    if e is None and isinstance(mid, int) and isinstance(cin, int) and cin and mid % cin == 0:
        e = mid // cin
    if e not in OFA_EXPANDS:
        raise EncodingError(f"{where}: expand_ratio {e!r}; valid: {', '.join(map(str, OFA_EXPANDS))}")
    label = f"k{k}e{e}"
    slot = _slot(space, slot_name)
    op = slot.ops[space.dimensions[slot.dim].choices.index(label)]
    checks = [("in_channels", cin, op.cin), ("out_channels", conv.get("out_channels"), op.cout),
              ("use_se", bool(conv.get("use_se")), bool(op.se)),
              ("act_func", _OFA_ACTS.get(conv.get("act_func"), conv.get("act_func")), op.act)]
    if mid is not None:
        checks.append(("mid_channels", mid, op.mid))
    stride = conv.get("stride", op.stride)
    if stride != op.stride and not (cifar and stride == 2):
        checks.append(("stride", stride, op.stride))
    for key, got, want in checks:
        if got != want:
            raise EncodingError(f"{where}: {key} {got!r}, the {OFA_SPACE} space has {want!r} at {slot_name}")
    return label


# ------------------------------------------------------------------------------------ printing
def foreign_forms(space: SearchSpace, arch: Sequence[int]) -> list[tuple[str, str]]:
    """(label, text) of the foreign forms this architecture has, for ``arch-info``."""
    if space.name == TUNAS_SPACE:
        return [("tunas indices", tunas_encode(space, arch))]
    if space.name == OFA_SPACE:
        return [("ofa ks/e/d", json.dumps(ofa_encode(space, arch), separators=(", ", ": ")))]
    return []

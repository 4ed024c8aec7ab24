"""Space files: a search space written as YAML or JSON (``--space my_space.yaml``), read, checked and
built into a ``LayeredSpace`` with the operator vocabulary of the built-in spaces.

Every mistake in a file is reported on its own line naming the key path
(``stages[2].choices[4].kernel: 4 is not odd``), all at once. ``spec_from_space`` writes any
layered space (every built-in) as such a file; reading it back gives the same slots, operators,
dimensions and resolution policy. The file's description is recorded in ``space.to_json()``
(``"spec"``), so checkpoints, LUTs, runs and exported models rebuild the space without the file.
A file with a top-level ``cell:`` section describes a NAS-Bench-201-style cell space instead
(``spaces/cell_file.py``). The format is documented in docs/spaces.md ("Define your own space").
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable

from oneshot.errors import ConfigError

from .builder import LayoutBuilder, make_divisible
from .core import SearchSpace
from .layout import ACTIVATIONS, LayeredSpace, OpSpec, ResolutionPolicy

SUFFIXES = (".yaml", ".yml", ".json")
OPTIONS = ("resolution", "num_classes")
DEFAULTS = {"resolution": 32, "num_classes": 10}
TOP_KEYS = ("name", "description", "resolution", "num_classes", "options", "policy", "stem", "stages", "head")
STAGE_KEYS = ("name", "width", "stride", "repeat", "names", "act", "depth", "depth_name", "choices")
RULE_KEYS = ("max_resolution", "stem_stride", "unstrided", "note")
#: operator type -> the keys it accepts (besides ``type``, ``label``, ``at_first``)
OP_KEYS = {
    "mbconv": ("expand", "kernel", "se", "se_base", "act", "groups", "expand_conv"),
    "skip": (),
    "shuffle": ("kernel", "mid", "act"),
    "xception": ("mid", "act"),
    "conv": ("kernel", "act", "groups", "bn", "bias"),
}
ALIASES = {"identity": "skip", "shuffle_xception": "xception"}
HEAD_KEYS = {"conv": ("out", "kernel", "act", "bn", "bias", "name"), "pool": ("name",), "linear": ("bias", "name")}
SE_DIVISOR = 8


def is_space_file(target: str) -> bool:
    """True when ``--space`` names a file (by its suffix) rather than a registered space or plugin."""
    return isinstance(target, str) and target.lower().endswith(SUFFIXES)


def read_space_file(path: str | Path) -> dict[str, Any]:
    """The mapping of a YAML or JSON space file (a ``ConfigError`` naming the file otherwise)."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"--space {path}: no such file (a space file ends in {', '.join(SUFFIXES)})")
    text = p.read_text(encoding="utf-8")
    try:
        if p.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # yaml.YAMLError / json.JSONDecodeError: one line with the position
        raise ConfigError(f"space file {path}: not valid {p.suffix[1:].upper()}: "
                          f"{' '.join(str(exc).split())}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"space file {path}: expected a mapping (name, stem, stages, head, ...), "
                          f"got {type(data).__name__}")
    return data


class _Checker:
    """Collects one line per mistake; typed getters return ``None`` for a bad value and go on."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def error(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}")

    def keys(self, data: Any, path: str, valid: tuple[str, ...], required: tuple[str, ...] = ()) -> bool:
        if not isinstance(data, dict):
            self.error(path, f"expected a mapping with keys {', '.join(valid)}, got {data!r}")
            return False
        for key in data:
            if key not in valid:
                self.error(f"{path}.{key}" if path else str(key), f"unknown key; valid: {', '.join(valid)}")
        for key in required:
            if key not in data:
                self.error(f"{path}.{key}" if path else key, "missing (required)")
        return True

    def raise_errors(self, source: str) -> None:
        """Raise the mistakes found (if any) as one ``ConfigError``, one line each."""
        if self.errors:
            head = f"{source}: {len(self.errors)} mistake(s)" if len(self.errors) > 1 else source
            raise ConfigError(head + (":\n  " + "\n  ".join(self.errors) if len(self.errors) > 1
                                      else f": {self.errors[0]}"))

    def integer(self, data: dict, key: str, path: str, default: Any = None, low: int = 1,
                odd: bool = False) -> int | None:
        value = data.get(key, default)
        where = f"{path}.{key}" if path else key
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            self.error(where, f"{value!r} is not an integer")
            return None
        if value < low:
            self.error(where, f"{value} is below {low}")
            return None
        if odd and value % 2 == 0:
            self.error(where, f"{value} is not odd")
            return None
        return value

    def number(self, data: dict, key: str, path: str, default: Any, low: float, high: float | None = None,
               positive: bool = False) -> float | None:
        value = data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.error(f"{path}.{key}", f"{value!r} is not a number")
            return None
        if value < low or (high is not None and value > high) or (positive and value <= 0):
            self.error(f"{path}.{key}", f"{value} is outside {'(' if positive else '['}{low} .. "
                                        f"{high if high is not None else 'inf'}]")
            return None
        return value

    def boolean(self, data: dict, key: str, path: str, default: bool | None) -> bool | None:
        value = data.get(key, default)
        if value is not None and not isinstance(value, bool):
            self.error(f"{path}.{key}", f"{value!r} is not true or false")
            return None
        return value

    def text(self, data: dict, key: str, path: str, default: str | None = None,
             choices: tuple[str, ...] | None = None) -> str | None:
        value = data.get(key, default)
        where = f"{path}.{key}" if path else key
        if value is None:
            return None
        if not isinstance(value, str) or not value:
            self.error(where, f"{value!r} is not a non-empty string")
            return None
        if choices is not None and value not in choices:
            self.error(where, f"{value!r} is not one of {', '.join(choices)}")
            return None
        return value


def _label(op: dict[str, Any]) -> str:
    kind = op["type"]
    if kind == "mbconv":
        e = op["expand"]
        e = int(e) if float(e).is_integer() else e
        k = "_".join(map(str, op["kernel"])) if isinstance(op["kernel"], list) else op["kernel"]
        return f"e{e}k{k}" + ("se" if op.get("se") else "") + (f"g{op['groups']}" if op.get("groups", 1) > 1 else "")
    if kind in ("shuffle", "conv"):
        return f"{kind}{op.get('kernel', 3)}"
    return kind


def _operator(c: _Checker, data: Any, path: str, act: str, extra: tuple[str, ...] = ()) -> dict[str, Any] | None:
    """A checked operator mapping (``type`` plus its keys, defaults filled in), or None."""
    if not isinstance(data, dict):
        c.error(path, f"expected a mapping with a 'type' ({', '.join(OP_KEYS)}), got {data!r}")
        return None
    kind = ALIASES.get(data.get("type"), data.get("type"))
    if kind not in OP_KEYS:
        c.error(f"{path}.type", f"{data.get('type')!r} is not an operator; valid: {', '.join(OP_KEYS)} "
                                "(identity = skip)")
        return None
    ok = c.keys(data, path, ("type", "label", *OP_KEYS[kind], *extra))
    op: dict[str, Any] = {"type": kind}
    if kind == "mbconv":
        if "expand" not in data:
            c.error(f"{path}.expand", "missing (required for mbconv)")
        op["expand"] = c.number(data, "expand", path, 1, 0.0, positive=True) if "expand" in data else None
        op["kernel"] = _kernels(c, data, path) if isinstance(data.get("kernel"), list) \
            else c.integer(data, "kernel", path, 3, odd=True)
        # SE width = make_divisible(se x base): base ``mid`` (the hidden width, MobileNetV3 / OFA) or
        # ``input`` (the block's input width, TF-NAS: se 1 for e3, 2 for e6)
        op["se_base"] = c.text(data, "se_base", path, "mid", ("mid", "input"))
        op["se"] = c.number(data, "se", path, 0, 0.0, 1.0 if op["se_base"] != "input" else None)
        op["groups"] = c.integer(data, "groups", path, 1)
        op["expand_conv"] = c.boolean(data, "expand_conv", path, None)
    elif kind == "shuffle":
        op["kernel"] = c.integer(data, "kernel", path, 3, odd=True)
    elif kind == "conv":
        op["kernel"] = c.integer(data, "kernel", path, 3, odd=True)
        op["groups"] = c.integer(data, "groups", path, 1)
        op["bn"] = c.boolean(data, "bn", path, True)
        op["bias"] = c.boolean(data, "bias", path, False)
    if kind in ("shuffle", "xception"):
        op["mid"] = c.integer(data, "mid", path)
    if kind != "skip":
        op["act"] = c.text(data, "act", path, act, ACTIVATIONS)
    if not ok or any(v is None for k, v in op.items() if k not in ("expand_conv", "mid")):
        return None
    op["label"] = c.text(data, "label", path, _label(op)) or _label(op)
    return op


def _kernels(c: _Checker, data: dict, path: str) -> list[int] | None:
    """A MixConv kernel list (``kernel: [3, 5, 7]``): two or more odd sizes, or None after an error."""
    given = data["kernel"]
    if len(given) < 2:
        c.error(f"{path}.kernel", f"{given!r}: a MixConv kernel list needs two or more kernels "
                                  "(one kernel: write it as a number)")
        return None
    ks = [c.integer({f"kernel[{i}]": k}, f"kernel[{i}]", path, odd=True) for i, k in enumerate(given)]
    return None if any(k is None for k in ks) else ks


def _spec_of(op: dict[str, Any], cin: int, cout: int, stride: int) -> dict[str, Any]:
    """The ``OpSpec`` keyword arguments (without cin / in_hw) of a checked operator at a position."""
    kind = op["type"]
    if kind == "mbconv":
        mid = int(round(cin * op["expand"]))
        base = cin if op.get("se_base") == "input" else mid
        se = make_divisible(int(base * op["se"]), SE_DIVISOR) if op["se"] else 0
        expand_conv = op["expand"] != 1 if op["expand_conv"] is None else op["expand_conv"]
        kernels = tuple(op["kernel"]) if isinstance(op["kernel"], list) else ()
        return dict(kind="mbconv", cout=cout, stride=stride, kernel=max(kernels) if kernels else op["kernel"],
                    kernels=kernels, mid=mid, expand_conv=expand_conv, se=se, act=op["act"], groups=op["groups"])
    if kind == "skip":
        return dict(kind="skip", cout=cout, stride=stride)
    if kind in ("shuffle", "xception"):
        return dict(kind="shuffle" if kind == "shuffle" else "shuffle_xception", cout=cout, stride=stride,
                    kernel=op.get("kernel", 3), mid=op["mid"] or cout // 2, act=op["act"])
    return dict(kind="conv", cout=cout, stride=stride, kernel=op["kernel"], act=op["act"], groups=op["groups"],
                bn=op["bn"], bias=op["bias"])


def _shape_problem(op: dict[str, Any], cin: int, cout: int, stride: int, spec: dict[str, Any]) -> str | None:
    """Why an operator cannot sit at this position (channel arithmetic), or None."""
    kind = op["type"]
    groups = op.get("groups", 1)
    if kind == "mbconv":
        if spec["mid"] < 1:
            return f"expand {op['expand']} x {cin} input channels gives no hidden channels"
        if not spec["expand_conv"] and spec["mid"] != cin:
            return f"without the 1x1 expansion the hidden width must equal the input ({cin}), so expand must be 1"
        if spec["kernels"] and spec["mid"] < len(spec["kernels"]):
            return f"MixConv splits the hidden width {spec['mid']} into {len(spec['kernels'])} groups: too few channels"
        if groups > 1 and (cin % groups or spec["mid"] % groups or cout % groups):
            return f"groups {groups} must divide the input ({cin}), hidden ({spec['mid']}) and output ({cout}) widths"
    if kind == "conv" and groups > 1 and (cin % groups or cout % groups):
        return f"groups {groups} must divide the input ({cin}) and output ({cout}) widths"
    if kind in ("shuffle", "xception"):
        if stride == 1 and (cin % 2 or cout <= cin // 2):
            return f"a stride-1 ShuffleNet unit splits an even input in halves and must output more than one half (input {cin}, output {cout})"
        if stride > 1 and cout <= cin:
            return f"a strided ShuffleNet unit must widen its input ({cin} -> {cout})"
    return None


def _policy_rules(c: _Checker, data: Any) -> list[dict[str, Any]]:
    rules = data if isinstance(data, list) else [data]
    out = []
    for i, rule in enumerate(rules):
        path = f"policy[{i}]" if isinstance(data, list) else "policy"
        if not c.keys(rule, path, RULE_KEYS):
            continue
        unstrided = rule.get("unstrided", [])
        if not isinstance(unstrided, list) or not all(isinstance(n, str) for n in unstrided):
            c.error(f"{path}.unstrided", f"{unstrided!r} is not a list of slot names")
            unstrided = []
        out.append({"max_resolution": c.integer(rule, "max_resolution", path), "path": path,
                    "stem_stride": c.integer(rule, "stem_stride", path, 1) or 1,
                    "unstrided": unstrided, "note": c.text(rule, "note", path) or ""})
        if rule.get("max_resolution") is None and i < len(rules) - 1:
            c.error(f"{path}.max_resolution", "missing: only the last rule may apply to every resolution")
    return out


def _choose_rule(c: _Checker, rules: list[dict[str, Any]], resolution: int) -> dict[str, Any]:
    for rule in rules:
        if rule["max_resolution"] is None or resolution <= rule["max_resolution"]:
            return rule
    c.error("policy", f"no rule applies to resolution {resolution}; add a last rule without max_resolution")
    return {"stem_stride": 1, "unstrided": [], "note": "", "path": "policy"}


def space_from_spec(spec: dict[str, Any], source: str = "space file", **options: Any) -> LayeredSpace:
    """Check ``spec`` (a space file's mapping) and build its space; ``options`` (``resolution``,
    ``num_classes``, where the file's ``options`` allow them) override the file's values. All
    mistakes are raised together as one ``ConfigError``, one line each."""
    if isinstance(spec, dict) and "cell" in spec:  # a cell-based space (spaces/cell_file.py)
        from .cell_file import space_from_cell_spec

        return space_from_cell_spec(spec, source, **options)
    c = _Checker()
    c.keys(spec, "", TOP_KEYS, required=("stem", "stages", "head"))
    if not isinstance(spec, dict):
        raise ConfigError(f"{source}: {c.errors[0]}")
    name, allowed, resolution, classes = _options(c, spec, source, options)
    rules = _policy_rules(c, spec.get("policy", {"stem_stride": 1}))
    rule = _choose_rule(c, rules, resolution or 32)
    policy = ResolutionPolicy(resolution or 32, rule["stem_stride"], tuple(rule["unstrided"]),
                              rule["note"] or f"stem stride {rule['stem_stride']}"
                              + "".join(f", {n} stride 1" for n in rule["unstrided"]))
    b = LayoutBuilder(policy)
    declared: dict[str, int] = {}  # slot name -> declared stride (for the policy check)

    stem = spec.get("stem", {})
    if c.keys(stem, "stem", ("out", "act", "kernel"), required=("out",)):
        out = c.integer(stem, "out", "stem")
        act = c.text(stem, "act", "stem", "relu", ACTIVATIONS)
        kernel = c.integer(stem, "kernel", "stem", 3, odd=True)
        if out and act and kernel:
            b.fixed("stem", "stem", kind="conv", cout=out, stride=policy.stem_stride, kernel=kernel, act=act)
    stages = spec.get("stages", [])
    if not isinstance(stages, list) or not stages:
        c.error("stages", "expected a non-empty list of stages and fixed blocks")
        stages = []
    counter, searchable = 0, 0
    for s, stage in enumerate(stages):
        path = f"stages[{s}]"
        if isinstance(stage, dict) and "fixed" in stage:
            _fixed_block(c, b, stage, path, declared)
            continue
        searchable += 1
        counter = _stage(c, b, stage, path, searchable, counter, declared)
    _head(c, b, spec.get("head"), classes or 10)
    for i, rule_ in enumerate(rules):
        for j, slot in enumerate(rule_["unstrided"]):
            if slot not in declared:
                c.error(f"{rule_['path']}.unstrided[{j}]", f"no slot named {slot!r}")
            elif declared[slot] == 1:
                c.error(f"{rule_['path']}.unstrided[{j}]", f"slot {slot!r} has stride 1 already")
    if not c.errors and len(b.dimensions) == 0:
        c.error("stages", "no searchable slot: give at least one stage with choices")
    c.raise_errors(source)
    opts = {k: v for k, v in (("resolution", resolution), ("num_classes", classes)) if k in allowed}
    space = b.space(SpecSpace, opts, c.text(spec, "description", "", "") or f"space {name} from a file")
    space.name = name
    space.spec = _clean(spec)
    return space


def _options(c: _Checker, spec: dict[str, Any], source: str, options: dict[str, Any]) -> tuple:
    """The file's ``name``, the options ``-o`` may set, and the checked resolution and classes
    (the file's values, or ``options`` where the file allows them)."""
    name = c.text(spec, "name", "", "custom") or "custom"
    allowed = spec.get("options", list(OPTIONS))
    if not isinstance(allowed, list) or not set(allowed) <= set(OPTIONS):
        c.error("options", f"{allowed!r}: list which of {', '.join(OPTIONS)} `-o` may set")
        allowed = list(OPTIONS)
    for key in options:
        if key not in allowed:
            raise ConfigError(f"space {name!r} ({source}) has no option {key!r}; valid options: "
                              + (", ".join(f"{k} (default {spec.get(k)!r})" for k in allowed) or "none"))
    values = {k: options.get(k, spec.get(k, DEFAULTS[k])) for k in OPTIONS}
    return name, allowed, c.integer(values, "resolution", "", low=8), c.integer(values, "num_classes", "", low=2)


def _fixed_block(c: _Checker, b: LayoutBuilder, data: dict, path: str, declared: dict[str, int]) -> None:
    name = c.text(data, "fixed", path)
    label = c.text(data, "stage", path, "")
    extra = ("fixed", "stage", "out", "stride")
    kind = ALIASES.get(data.get("type"), data.get("type"))
    if kind == "maxpool":
        c.keys(data, path, ("fixed", "stage", "type", "stride"))
        stride = c.integer(data, "stride", path, 2)
        if name and stride:
            declared[name] = stride
            b.fixed(name, label or "", kind="maxpool", cout=b.channels, stride=stride, kernel=3)
        return
    op = _operator(c, data, path, "relu", extra)
    out = c.integer(data, "out", path, b.channels if op and op["type"] == "skip" else None)
    if out is None and "out" not in data:
        c.error(f"{path}.out", "missing (the block's output width)")
    stride = c.integer(data, "stride", path, 1)
    if not (op and name and out and stride):
        return
    if any(s.name == name for s in b.slots):
        c.error(f"{path}.fixed", f"slot name {name!r} is used twice")
        return
    spec = _spec_of(op, b.channels, out, stride)
    problem = _shape_problem(op, b.channels, out, stride, spec)
    if problem:
        c.error(path, problem)
        return
    declared[name] = stride
    b.fixed(name, label or "", **spec)


def _names(c: _Checker, data: dict, path: str, label: str, repeat: int, counter: int) -> list[str] | None:
    names = data.get("names", "{stage}.l{i}")
    if isinstance(names, list):
        if len(names) != repeat or not all(isinstance(n, str) and n for n in names):
            c.error(f"{path}.names", f"give {repeat} slot names (one per repeat), got {names!r}")
            return None
        return names
    if not isinstance(names, str) or (repeat > 1 and "{i}" not in names and "{n}" not in names):
        c.error(f"{path}.names", f"{names!r}: a template with {{i}} (layer in the stage, from 1) or {{n}} "
                                 "(searchable layer, from 0), or a list of names")
        return None
    return [names.replace("{stage}", label).replace("{i}", str(i + 1)).replace("{n}", str(counter + i))
            for i in range(repeat)]


def _stage(c: _Checker, b: LayoutBuilder, data: Any, path: str, number: int, counter: int,
           declared: dict[str, int]) -> int:
    if not c.keys(data, path, STAGE_KEYS, required=("width", "choices")):
        return counter
    label = c.text(data, "name", path, f"stage{number}") or f"stage{number}"
    width = c.integer(data, "width", path)
    stride = c.integer(data, "stride", path, 1)
    repeat = c.integer(data, "repeat", path, 1)
    act = c.text(data, "act", path, "relu", ACTIVATIONS) or "relu"
    raw = data.get("choices")
    if not isinstance(raw, list) or not raw:
        c.error(f"{path}.choices", "expected a non-empty list of operators")
        raw = []
    choices = []
    for j, item in enumerate(raw):
        op = _operator(c, item, f"{path}.choices[{j}]", act, ("at_first",))
        at_first = c.boolean(item, "at_first", f"{path}.choices[{j}]", True) if isinstance(item, dict) else True
        if op is not None:
            choices.append((j, op, at_first is not False))
    labels: dict[str, int] = {}
    for j, op, _ in choices:
        if op["label"] in labels:
            c.error(f"{path}.choices[{j}].label", f"{op['label']!r} repeats choices[{labels[op['label']]}]")
        labels.setdefault(op["label"], j)
    if not (width and stride and repeat):
        return counter
    names = _names(c, data, path, label, repeat, counter)
    gate_dim, depths = _depth(c, b, data, path, label, repeat)
    for i, name in enumerate(names or ()):
        declared.setdefault(name, stride if i == 0 else 1)
    if names is None or len(choices) != len(raw) or c.errors:
        return counter + repeat
    for i, name in enumerate(names):
        here = stride if i == 0 else 1
        offered = [(j, op) for j, op, first in choices if i > 0 or first]
        if not offered:
            c.error(f"{path}.choices", "every choice has at_first: false, so the first slot has none")
            return counter + repeat
        if any(s.name == name for s in b.slots) or any(d.name == name for d in b.dimensions):
            c.error(f"{path}.names", f"slot name {name!r} is used twice")
            return counter + repeat
        ops = []
        effective = b._stride(name, here)
        for j, op in offered:
            spec = _spec_of(op, b.channels, width, here)
            problem = _shape_problem(op, b.channels, width, effective, spec)
            if problem:
                c.error(f"{path}.choices[{j}]", f"{problem} (at slot {name})")
                return counter + repeat
            ops.append((op["label"], spec))
        declared[name] = here
        gate = None if gate_dim is None or i < min(depths) else (gate_dim, depths.index(i + 1))
        b.choice(name, ops, stage=label, gate=gate)
    return counter + repeat


def _depth(c: _Checker, b: LayoutBuilder, data: dict, path: str, label: str, repeat: int):
    if "depth" not in data:
        if "depth_name" in data:
            c.error(f"{path}.depth_name", "given without depth")
        return None, []
    depths = data["depth"]
    if (not isinstance(depths, list) or len(depths) < 2 or not all(isinstance(d, int) and d >= 1 for d in depths)
            or depths != list(range(depths[0], depths[0] + len(depths)))):
        c.error(f"{path}.depth", f"{depths!r}: consecutive increasing layer counts, e.g. [2, 3, 4]")
        return None, []
    if depths[-1] != repeat:
        c.error(f"{path}.depth", f"the largest depth {depths[-1]} must equal repeat ({repeat})")
        return None, []
    name = c.text(data, "depth_name", path, f"{label}.depth") or f"{label}.depth"
    return b.dimension(name, [str(d) for d in depths]), depths


def _head(c: _Checker, b: LayoutBuilder, data: Any, classes: int) -> None:
    if not isinstance(data, list) or not data:
        c.error("head", "expected a list ending with a linear classifier, e.g. [{type: conv, out: 1280}, "
                        "{type: pool}, {type: linear}]")
        return
    convs, pooled = 0, False
    for i, item in enumerate(data):
        path = f"head[{i}]"
        item = {"type": item} if isinstance(item, str) else item
        kind = item.get("type") if isinstance(item, dict) else None
        if kind not in HEAD_KEYS:
            c.error(f"{path}.type", f"{kind!r} is not a head layer; valid: {', '.join(HEAD_KEYS)}")
            continue
        c.keys(item, path, ("type", *HEAD_KEYS[kind]))
        last = i == len(data) - 1
        if kind == "linear" and not last:
            c.error(path, "the linear classifier must be the last head layer")
        if last and kind != "linear":
            c.error(path, "the head must end with a linear classifier ({type: linear})")
        if kind == "conv":
            out = c.integer(item, "out", path)
            if "out" not in item:
                c.error(f"{path}.out", "missing (the conv's output width)")
            act = c.text(item, "act", path, "relu", ACTIVATIONS)
            kernel = c.integer(item, "kernel", path, 1, odd=True)
            bn = c.boolean(item, "bn", path, True)
            bias = c.boolean(item, "bias", path, not bn if bn is not None else False)
            if pooled and kernel != 1:
                c.error(f"{path}.kernel", "a conv after the pool sees a 1x1 map: kernel must be 1")
            if out and act and kernel and bn is not None and bias is not None:
                b.fixed(item.get("name", f"head{convs}"), "head", kind="conv", cout=out, kernel=kernel, act=act,
                        bn=bn, bias=bias)
            convs += 1
        elif kind == "pool":
            if pooled:
                c.error(path, "a second pool")
            pooled = True
            b.fixed(item.get("name", "pool"), "head", kind="pool", cout=b.channels)
        else:
            if not pooled:
                c.error(path, "the classifier needs a {type: pool} before it")
            bias = c.boolean(item, "bias", path, True)
            if bias is not None:
                b.fixed(item.get("name", "classifier"), "head", kind="linear", cout=classes, bias=bias)


def _clean(data: Any) -> Any:
    """A JSON-safe deep copy (YAML may give tuples or other scalars)."""
    return json.loads(json.dumps(data))


class SpecSpace(LayeredSpace):
    """A layered space built from a space file; ``to_json`` carries the file's description."""

    spec: dict[str, Any] = {}

    def to_json(self) -> dict[str, Any]:
        data = super().to_json()
        data["spec"] = self.spec
        return data


def load_space_file(path: str | Path, **options: Any) -> LayeredSpace:
    """Read, check and build the space of a YAML or JSON file (``--space PATH``)."""
    spec = read_space_file(path)
    if "dimensions" in spec and "stages" not in spec:  # a space.json of a model or run: to_json's form
        return space_from_recorded(spec, **options)
    spec.setdefault("name", Path(path).stem)
    return space_from_spec(spec, f"space file {path}", **options)


def space_from_recorded(recorded: dict[str, Any], **options: Any) -> SearchSpace:
    """Rebuild a space from its recorded description (``SearchSpace.to_json``), with ``options``
    overriding the recorded ones (then the recorded dimensions are not required to match)."""
    from .core import space_from_json

    if options and {**recorded.get("options", {}), **options} != recorded.get("options", {}):
        recorded = {**recorded, "options": {**recorded.get("options", {}), **options}}
        recorded.pop("dimensions", None)
    try:
        return space_from_json(recorded)
    except ValueError as exc:
        raise ConfigError(f"space {recorded.get('name')!r}: {exc}") from None


def file_options(path: str | Path) -> dict[str, Any]:
    """The options ``-o`` may set for a space file, with the file's values as defaults."""
    spec = read_space_file(path)
    if "dimensions" in spec and "stages" not in spec:
        return dict(spec.get("options", {}))
    allowed = spec.get("options", list(OPTIONS))
    return {k: spec.get(k, DEFAULTS[k]) for k in OPTIONS if k in allowed}


# ------------------------------------------------------------------------------------------ writing
def spec_from_space(space: LayeredSpace, at_resolution: Callable[[int], LayeredSpace] | None = None) -> dict[str, Any]:
    """A space file's mapping that rebuilds ``space`` (same slots, operators, dimensions, policy).

    ``at_resolution(r)`` builds the same space at resolution ``r``; with it the policy is written for
    every resolution (probed 16..512 px), else only the space's own resolution's rule. SE widths are
    written relative to the hidden width (MobileNetV3, OFA) or, when that does not rebuild the
    space, to the input width (TF-NAS): one convention for the whole file, so stages stay whole."""
    from .builtin.nas_bench_201 import CellSpace

    if isinstance(space, CellSpace):  # the cell section (spaces/cell_file.py)
        from .cell_file import spec_from_cell_space

        return spec_from_cell_space(space)
    try:
        spec = _spec_from_space(space, at_resolution, "mid")
    except ConfigError as exc:
        raise ConfigError(f"space {space.name!r} has no space-file form ({exc}); use it by its name") from None
    try:
        back = space_from_spec(json.loads(json.dumps(spec)))
        if [[o for o in sl.ops] for sl in back.slots] == [[o for o in sl.ops] for sl in space.slots]:
            return spec
    except ConfigError:
        pass
    return _spec_from_space(space, at_resolution, "input")


def _spec_from_space(space: LayeredSpace, at_resolution: Callable[[int], LayeredSpace] | None,
                     se_base: str) -> dict[str, Any]:
    slots = list(space.slots)
    if not slots or slots[0].name != "stem" or slots[0].ops[0].kind != "conv":
        raise ConfigError(f"space {space.name!r} does not start with a conv stem; it cannot be written as a file")
    stem = slots[0].ops[0]
    head_start = next(i for i, s in enumerate(slots) if s.stage == "head" or s.ops[0].kind in ("pool", "linear"))
    body = slots[1:head_start]
    spec: dict[str, Any] = {"name": space.name, "description": getattr(space, "description", "") or space.name}
    for key in OPTIONS:
        spec[key] = space.resolution if key == "resolution" else space.num_classes
    spec["options"] = [k for k in OPTIONS if k in space.options]
    spec["policy"] = _write_policy(space, at_resolution)
    spec["stem"] = {"out": stem.cout, "act": stem.act, **({"kernel": stem.kernel} if stem.kernel != 3 else {})}
    unstrided = set(space.policy.unstrided)
    spec["stages"] = _write_stages(space, body, unstrided, se_base)
    spec["head"] = _write_head(slots[head_start:])
    return spec


def _write_policy(space: LayeredSpace, at_resolution: Callable[[int], LayeredSpace] | None) -> list[dict[str, Any]]:
    def rule(p: ResolutionPolicy) -> dict[str, Any]:
        return {"stem_stride": p.stem_stride, "unstrided": list(p.unstrided), "note": p.note}

    if at_resolution is None or "resolution" not in space.options:
        return [rule(space.policy)]
    rules: list[dict[str, Any]] = []
    for r in range(16, 513, 8):
        current = rule(at_resolution(r).policy)
        if rules and {k: v for k, v in rules[-1].items() if k != "max_resolution"} == current:
            rules[-1]["max_resolution"] = r
        else:
            rules.append({"max_resolution": r, **current})
    del rules[-1]["max_resolution"]
    return rules


def _op_fields(op: OpSpec, declared_stride: int, se_base: str = "mid") -> dict[str, Any]:
    """The file form of one operator (what ``_operator`` reads), relative to its input width."""
    if op.kind == "mbconv":
        expand = op.mid / op.cin
        out: dict[str, Any] = {"type": "mbconv", "expand": int(expand) if expand.is_integer() else expand,
                               "kernel": list(op.kernels) if op.kernels else op.kernel}
        if int(round(op.cin * out["expand"])) != op.mid:
            raise ConfigError(f"operator {op.signature()}: hidden width {op.mid} is not a ratio of {op.cin}")
        if op.se:
            by_input = op.se / op.cin
            input_ok = make_divisible(int(op.cin * by_input), SE_DIVISOR) == op.se
            if make_divisible(int(op.mid * 0.25), SE_DIVISOR) == op.se and not (se_base == "input" and input_ok):
                out["se"] = 0.25
            elif input_ok:
                out.update(se=int(by_input) if by_input.is_integer() else by_input, se_base="input")
            else:
                raise ConfigError(f"operator {op.signature()}: SE width {op.se} is neither make_divisible(mid / 4) "
                                  f"nor a multiple of the input width")
        out["act"] = op.act
        if op.groups != 1:
            out["groups"] = op.groups
        if op.expand_conv != (out["expand"] != 1):
            out["expand_conv"] = op.expand_conv
        return out
    if op.kind == "skip":
        return {"type": "skip"}
    if op.kind in ("shuffle", "shuffle_xception"):
        out = {"type": "shuffle", "kernel": op.kernel} if op.kind == "shuffle" else {"type": "xception"}
        if op.mid != op.cout // 2:
            out["mid"] = op.mid
        out["act"] = op.act
        return out
    if op.kind == "conv":
        return {"type": "conv", "kernel": op.kernel, "act": op.act,
                **({"groups": op.groups} if op.groups != 1 else {}), **({"bn": False} if not op.bn else {}),
                **({"bias": True} if op.bias else {})}
    raise ConfigError(f"operator kind {op.kind!r} has no space-file form")


def _write_stages(space: LayeredSpace, body: list, unstrided: set[str], se_base: str = "mid") -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    current: dict[str, Any] | None = None  # the stage being extended, with private keys _first/_rest
    counter = 0
    for slot in body:
        stride = max(o.stride for o in slot.ops)
        if slot.name in unstrided:
            stride = 2  # the declared stride; the policy makes it 1 at this resolution
        if slot.dim is None:
            op = slot.ops[0]
            current = None
            if op.kind == "maxpool":
                items.append({"fixed": slot.name, "stage": slot.stage, "type": "maxpool", "stride": stride})
                continue
            fields = _op_fields(op, stride, se_base)
            items.append({"fixed": slot.name, **({"stage": slot.stage} if slot.stage else {}), **fields,
                          "out": op.cout, **({"stride": stride} if stride != 1 else {})})
            continue
        labels = space.dimensions[slot.dim].choices
        choices = [{"label": lab, **_op_fields(op, stride, se_base)} for lab, op in zip(labels, slot.ops)]
        depth = slot.gate[0] if slot.gate else None
        if (current is not None and stride == 1 and slot.stage == current["name"] and slot.ops[0].cout == current["width"]
                and _extends(current, choices, depth)):
            current["_names"].append(slot.name)
            current["repeat"] += 1
        else:
            current = {"name": slot.stage, "width": slot.ops[0].cout, "stride": stride, "repeat": 1,
                       "_names": [slot.name], "_first": choices, "_rest": None, "_depth": depth, "_counter": counter}
            items.append(current)
        counter += 1
    for item in items:
        if "_names" in item:
            _finish_stage(space, item)
    return items


def _extends(stage: dict[str, Any], choices: list[dict[str, Any]], depth: int | None) -> bool:
    if depth is not None and stage["_depth"] is not None and depth != stage["_depth"]:
        return False
    if stage["_rest"] is not None:
        if choices != stage["_rest"]:
            return False
    else:
        it = iter(choices)
        if not all(any(c == f for c in it) for f in stage["_first"]):  # the first slot's: a subsequence
            return False
        stage["_rest"] = choices
    if depth is not None:
        stage["_depth"] = depth
    return True


def _finish_stage(space: LayeredSpace, item: dict[str, Any]) -> None:
    names, first, rest, depth = item.pop("_names"), item.pop("_first"), item.pop("_rest"), item.pop("_depth")
    counter = item.pop("_counter")
    choices = [dict(c) for c in (rest or first)]
    for c in choices:
        if c not in first:
            c["at_first"] = False
    # compact fields: the stage's common activation, labels equal to the default
    acts = {c.get("act") for c in choices if "act" in c}
    if len(acts) == 1:
        item["act"] = acts.pop()
        for c in choices:
            c.pop("act", None)
    for c in choices:
        probe = {**c, "act": item.get("act", c.get("act")), "se": c.get("se", 0), "groups": c.get("groups", 1)}
        if c["label"] == _label(probe):
            c.pop("label")
    n = len(names)
    template = names[0][:-1] + "{i}" if names[0].endswith("1") else None
    if template and [template.replace("{i}", str(i + 1)) for i in range(n)] == names:
        item["names"] = template
    elif names == [f"l{counter + i}" for i in range(n)]:
        item["names"] = "l{n}"
    elif n == 1:
        item["names"] = names[0]
    else:
        item["names"] = names
    if item["names"] == "{stage}.l{i}".replace("{stage}", item["name"]):
        item.pop("names")
    if depth is not None:
        dim = space.dimensions[depth]
        item["depth"] = [int(x) for x in dim.choices]
        if dim.name != f"{item['name']}.depth":
            item["depth_name"] = dim.name
    if item["stride"] == 1:
        item.pop("stride")
    if item["repeat"] == 1:
        item.pop("repeat")
    item["choices"] = choices


def _write_head(slots: list) -> list[dict[str, Any]]:
    out, convs = [], 0
    for slot in slots:
        op = slot.ops[0]
        if op.kind == "pool":
            out.append({"type": "pool", **({"name": slot.name} if slot.name != "pool" else {})})
        elif op.kind == "linear":
            out.append({"type": "linear", **({"bias": False} if not op.bias else {}),
                        **({"name": slot.name} if slot.name != "classifier" else {})})
        elif op.kind == "conv":
            item: dict[str, Any] = {"type": "conv", "out": op.cout, "act": op.act}
            if op.kernel != 1:
                item["kernel"] = op.kernel
            if not op.bn:
                item["bn"] = False
            if op.bias != (not op.bn):
                item["bias"] = op.bias
            if slot.name != f"head{convs}":
                item["name"] = slot.name
            convs += 1
            out.append(item)
        else:
            raise ConfigError(f"head slot {slot.name} ({op.kind}) has no space-file form")
    return out


class _FlowList(list):
    pass


class _FlowDict(dict):
    pass


def _flow(data: Any, in_list: bool = False) -> Any:
    # lists of scalars and the flat mappings inside lists (choices, head layers) on one line each
    if isinstance(data, dict):
        flat = all(not isinstance(v, dict) and not (isinstance(v, list) and any(isinstance(x, (dict, list)) for x in v))
                   for v in data.values())
        out = {k: _flow(v) for k, v in data.items()}
        return _FlowDict(out) if in_list and flat else out
    if isinstance(data, list):
        if all(not isinstance(x, (dict, list)) for x in data):
            return _FlowList(data)
        return [_flow(x, True) for x in data]
    return data


def dump_spec(spec: dict[str, Any], fmt: str = "yaml") -> str:
    """The text of a space file (``yaml`` or ``json``)."""
    if fmt == "json":
        return json.dumps(spec, indent=2) + "\n"
    import yaml

    class _Dumper(yaml.SafeDumper):
        pass

    _Dumper.add_representer(_FlowList, lambda d, v: d.represent_sequence("tag:yaml.org,2002:seq", v, flow_style=True))
    _Dumper.add_representer(_FlowDict, lambda d, v: d.represent_mapping("tag:yaml.org,2002:map", v.items(),
                                                                        flow_style=True))
    return yaml.dump(_flow(spec), Dumper=_Dumper, sort_keys=False, width=120, allow_unicode=True)

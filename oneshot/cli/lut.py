"""``oneshot lut profile|import|check|validate|show``: latency lookup tables for this device or imported."""
from __future__ import annotations

import argparse

from oneshot.latency.formats import FORMATS

from .options import parse_key_values


def _space_args(p: argparse.ArgumentParser, required: bool = True) -> None:
    p.add_argument("--space", required=required, help="search space: a name (see `oneshot spaces`), a space file PATH.yaml|.json, or "
                        "package.module:factory")
    p.add_argument("--option", "-o", action="append", default=[], metavar="KEY=VALUE",
                   help="space option, e.g. -o resolution=32 or -o width=1.2")


def _protocol_args(p: argparse.ArgumentParser, defaults: bool) -> None:
    d = (lambda v: v) if defaults else (lambda v: None)
    p.add_argument("--device", default=d("cpu"), help="cpu or cuda[:N] (CUDA: events + synchronize)")
    p.add_argument("--threads", type=int, default=d(1), help="intra-op threads (stated in the table)")
    p.add_argument("--batch", type=int, default=d(1), help="batch size of the timed inputs")
    p.add_argument("--warmup", type=int, default=d(10), help="untimed warm-up passes")
    p.add_argument("--repeats", type=int, default=d(50), help="timed samples per operator / network")
    p.add_argument("--timer", choices=("auto", "wall", "thread-cpu"), default=d("auto"),
                   help="CPU clock: auto = thread CPU time with 1 thread (robust on a shared machine), "
                        "else wall clock")
    p.add_argument("--allocator", choices=("pinned", "default"), default=d("pinned"),
                   help="pinned (default): large buffers stay in the heap, so times do not depend on the "
                        "process's allocation history (glibc); default: leave malloc as it is")
    p.add_argument("--no-fold-bn", dest="fold_bn", action="store_false", default=True if defaults else None,
                   help="time BatchNorm as a separate op instead of folding it into the conv")
    p.add_argument("--seed", type=int, default=0, help="seed for inputs and orders")


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("lut", help="latency lookup tables: profile, import, check, validate, show",
                       description="Latency lookup tables keyed by operator signature: profile this device, "
                                   "import published tables, check that a table covers a space, validate it "
                                   "against real networks, or show it.")
    lsub = p.add_subparsers(dest="lut_command", metavar="SUBCOMMAND", required=True)

    q = lsub.add_parser("profile", help="time every distinct operator of a space on this device (resumable)")
    _space_args(q)
    q.add_argument("--out", required=True, help="table JSON to write (extended if it exists)")
    _protocol_args(q, True)
    q.add_argument("--restart", action="store_true", help="ignore an existing table / partial results")
    q.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    q.set_defaults(func=run_profile)

    q = lsub.add_parser("import", help="read a published table into oneshot's form")
    q.add_argument("path", help="the published table (file or folder)")
    q.add_argument("--format", required=True, choices=FORMATS.names(),
                   help=f"source format ({FORMATS.help_text()})")
    _space_args(q, required=False)
    q.add_argument("--out", required=True, help="table JSON to write")
    q.add_argument("--skip-ms", type=float, default=0.0, help="single-path-nas: cost of a skip (default 0)")
    q.add_argument("--arch", help="tflite-profile: the architecture (key or indices) the profile is of")
    q.add_argument("--force", action="store_true", help="replace an existing --out table")
    q.set_defaults(func=run_import)

    q = lsub.add_parser("check", help="verify that a table covers every choice of every layer of a space")
    _space_args(q, required=False)  # default: the file-defined / plugin space the table was profiled for
    q.add_argument("--lut", required=True, help="table JSON")
    q.set_defaults(func=run_check)

    q = lsub.add_parser("validate", help="measure random networks end-to-end and report the table's error")
    _space_args(q, required=False)
    q.add_argument("--lut", required=True, help="table JSON (report and plot are written next to it)")
    q.add_argument("-n", "--num-archs", type=int, default=30, help="random architectures to measure")
    q.add_argument("--arch-seed", type=int, default=0, help="seed of the random architectures")
    q.add_argument("--fit-scale", action="store_true", help="fit scale and offset (default: offset only)")
    q.add_argument("--no-save-correction", dest="save_correction", action="store_false",
                   help="do not store the fitted correction in the table")
    q.add_argument("--no-plot", dest="plot", action="store_false", help="skip the scatter PNG")
    q.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    _protocol_args(q, False)
    q.set_defaults(func=run_validate)

    q = lsub.add_parser("show", help="provenance and entries of a table; per-layer latency of an architecture")
    q.add_argument("lut", help="table JSON")
    _space_args(q, required=False)
    q.add_argument("--arch", help="with --space: an architecture (key, indices, 'random', TuNAS indices or an OFA .json file) to price")
    q.add_argument("--apply-correction", action="store_true", help="apply the fitted correction")
    q.set_defaults(func=run_show)


def _space(args: argparse.Namespace):
    from oneshot.spaces import create_space

    if args.space is None:
        return _recorded_space(args.lut)
    return create_space(args.space, **parse_key_values(args.option, "space option", "resolution=32"))


def _recorded_space(lut: str):
    """The space a profiled table records in full (a file-defined or plugin space), for a missing --space."""
    from oneshot.errors import ConfigError
    from oneshot.latency import load_table
    from oneshot.spaces.core import space_from_json

    records = load_table(lut).provenance.get("spaces", [])
    defined = [r["definition"] for r in records if r.get("definition")]
    if len(defined) != 1:
        names = ", ".join(sorted({str(r.get("name")) for r in records})) or "none"
        raise ConfigError(f"give --space: {lut} records {'no' if not defined else len(defined)} full space "
                          f"description(s) (profiled spaces: {names})")
    return space_from_json(defined[0])


def _protocol(args: argparse.Namespace, base=None):
    from oneshot.latency.timing import Protocol

    fields = ("device", "threads", "batch", "warmup", "repeats", "timer", "allocator", "fold_bn", "seed")
    values = {f: getattr(args, f) for f in fields if getattr(args, f, None) is not None}
    if base is not None:
        from dataclasses import replace

        return replace(base, **values)
    return Protocol(**values)


def run_profile(args: argparse.Namespace) -> int:
    from oneshot.latency.profile import profile_space

    space = _space(args)
    protocol = _protocol(args)
    table = profile_space(space, args.out, protocol, progress=args.progress, restart=args.restart)
    lo, hi = _latency_bounds(space, table)
    print(f"profiled {space.name} {space.options} on {table.provenance.get('device_name')} "
          f"({protocol.threads} thread(s), batch {protocol.batch}, BN {'folded' if protocol.fold_bn else 'unfolded'}, "
          f"clock {protocol.resolved_timer}): {len(table.entries)} operator signatures -> {args.out}")
    print(f"latency over the space: {lo:.3f} .. {hi:.3f} ms")
    return 0


def run_import(args: argparse.Namespace) -> int:
    from oneshot.latency.formats import import_table
    from oneshot.latency.pricing import missing_entries

    from pathlib import Path

    from oneshot.errors import ConfigError

    out = Path(args.out)
    if out.is_dir():
        raise ConfigError(f"--out {out} is a directory; give the table's file name, e.g. {out / 'table.json'}")
    if out.exists() and not args.force:  # a profiled table can take hours: never replace it silently
        raise ConfigError(f"--out {out} already exists; pass --force to replace it or choose another file")
    space = _space(args) if args.space else None
    result = import_table(args.format, args.path, space, skip_ms=args.skip_ms, arch=args.arch)
    result.table.save(args.out)
    print(f"imported {args.format} table {args.path}: {len(result.table.entries)} operator entries, "
          f"{sum(len(v) for v in result.table.positional.values())} positional, constant "
          f"{result.table.constant_ms:.4g} ms -> {args.out}")
    for note in result.notes:
        print(f"note: {note}")
    arch = result.table.provenance.get("architecture")
    if space is not None and arch is not None:  # a per-network profile prices that one network
        print(f"coverage: architecture {arch} of {space.name} {space.options} (price it with "
              f"`oneshot lut show {args.out} --space {space.name} --arch {arch}`)")
    elif space is not None:
        missing = missing_entries(space, result.table)
        if missing:
            print(f"coverage: {len(missing)} slot choice(s) of {space.name} are missing; run `oneshot lut check`")
            return 1
        lo, hi = _latency_bounds(space, result.table)
        print(f"coverage: complete for {space.name} {space.options}; latency {lo:.3f} .. {hi:.3f} ms")
    return 0


def run_check(args: argparse.Namespace) -> int:
    from oneshot.latency import load_table, missing_entries, missing_signatures

    space = _space(args)
    table = load_table(args.lut)
    missing = missing_entries(space, table)
    if not missing:
        lo, hi = _latency_bounds(space, table)
        print(f"ok: {args.lut} covers every choice of every layer of {space.name} {space.options} "
              f"(latency {lo:.3f} .. {hi:.3f} ms)")
        if table.provenance.get("fixed_parts"):  # e.g. S3NAS/OSNASLib base: one lump, not per-part times
            print(f"note: fixed parts priced {table.provenance['fixed_parts']} (constant {table.constant_ms:.4g} ms)")
        return 0
    sigs = missing_signatures(missing)
    print(f"missing: {len(sigs)} operator signature(s), {len(missing)} slot choice(s) of {space.name} "
          f"{space.options} are not in {args.lut}:")
    for m in missing:
        print(f"  {m.slot:<14}{m.label:<10}{m.signature}")
    if _suggest_space(space, table, args.lut):
        return 1
    profiled = "protocol" in table.provenance
    target = args.lut if profiled else "my-device.json"
    print(f"fix: `oneshot lut profile --space {args.space or space.name} " + "".join(f"-o {o} " for o in args.option)
          + f"--out {target}` " + ("times only the missing ones" if profiled else
                                   "(an imported table cannot be extended with this device's timings)"))
    return 1


def run_validate(args: argparse.Namespace) -> int:
    from oneshot.latency import load_table
    from oneshot.latency.validate import protocol_from_table, report_paths, validate_table

    space = _space(args)
    protocol = _protocol(args, protocol_from_table(load_table(args.lut)))
    rep = validate_table(space, args.lut, n=args.num_archs, seed=args.arch_seed, protocol=protocol,
                         fit_scale=args.fit_scale, save_correction=args.save_correction, plot=args.plot,
                         progress=args.progress)
    raw, cor, c = rep["raw"], rep["corrected"], rep["correction"]
    print(f"validated {args.lut} on {rep['n']} random {space.name} architectures ({rep['environment']['device_name']}, "
          f"{protocol.threads} thread(s), batch {protocol.batch}, clock {protocol.resolved_timer})")
    print(f"  table as is:      median |err| {raw['median_abs_rel_error']:.1%}   P90 {raw['p90_abs_rel_error']:.1%}   "
          f"max {raw['max_abs_rel_error']:.1%}   mean signed {raw['mean_signed_rel_error']:+.1%}")
    print(f"  Spearman rank correlation {rep['spearman']:.3f}")
    if rep.get("drift"):
        d, n = rep["drift"], rep["drift_normalised"]
        print(f"  machine speed:    the reference network took {d['reference_ms_now']:.4g} ms now, "
              f"{d['reference_ms_at_profile']:.4g} ms when profiled (x{d['speed_ratio']:.3f})")
        print(f"  drift-normalised: median |err| {n['median_abs_rel_error']:.1%}   P90 {n['p90_abs_rel_error']:.1%}   "
              f"max {n['max_abs_rel_error']:.1%}   mean signed {n['mean_signed_rel_error']:+.1%}")
    print(f"  with correction:  median |err| {cor['median_abs_rel_error']:.1%}   P90 {cor['p90_abs_rel_error']:.1%}   "
          f"(measured = {c['scale']:.4g} x table + {c['offset_ms']:+.4g} ms"
          f"{'; stored in the table, applied with --apply-correction' if args.save_correction else ''})")
    json_path, png_path = report_paths(args.lut)
    print(f"  report {json_path}" + (f", plot {png_path}" if args.plot else ""))
    return 0


def run_show(args: argparse.Namespace) -> int:
    import json

    import numpy as np

    from oneshot.latency import load_table

    table = load_table(args.lut)
    print(f"{args.lut}: {len(table.entries)} operator entries, "
          f"{sum(len(v) for v in table.positional.values())} positional, constant {table.constant_ms:.4g} ms")
    print("provenance: " + json.dumps(table.provenance, indent=1, sort_keys=True))
    if table.correction:
        print(f"correction: {table.correction}")
    if not args.space:
        for sig, e in sorted(table.entries.items(), key=lambda kv: -kv[1].ms)[:15]:
            print(f"  {e.ms:9.4f} ms  +-{e.std:7.4f}  n={e.count:<5}{sig}")
        if len(table.entries) > 15:
            print(f"  ... {len(table.entries) - 15} more (largest first)")
        return 0
    from oneshot.costs import cost_model

    space = _space(args)
    if args.arch and table.provenance.get("architecture") and _missing_count(space, table):
        return _show_one_network(space, table, args.arch)  # a per-network profile: no space bounds
    cost = cost_model(space, table, apply_correction=args.apply_correction)
    lo, hi = cost.bounds()["latency_ms"]
    print(f"space {space.name} {space.options}: latency {lo:.3f} .. {hi:.3f} ms")
    if args.arch:
        arch = space.sample(np.random.default_rng(0)) if args.arch == "random" else space.parse(args.arch)
        total = cost.price_one(arch)
        print(f"architecture {space.encoding_key(arch)}: {total['latency_ms']:.3f} ms, "
              f"{total['macs'] / 1e6:.2f}M MACs, {total['params'] / 1e6:.3f}M params")
        from oneshot.latency.pricing import slot_labels

        for slot, op in space.active_ops(arch):
            label = slot_labels(space, slot)[0 if slot.dim is None else arch[slot.dim]]
            e = table.lookup(op.signature(), slot.name, label)
            print(f"  {slot.name:<14}{label:<8}{(e.ms if e else 0.0):9.4f} ms  {op.signature()}")
    return 0


def _missing_count(space, table) -> int:
    from oneshot.latency.pricing import missing_entries

    return len(missing_entries(space, table))


def _show_one_network(space, table, arch_text: str) -> int:
    """Price one architecture from a table that times only that network (e.g. a TFLite profile)."""
    from oneshot.errors import LUTError
    from oneshot.latency.pricing import slot_labels

    arch = space.parse(arch_text)
    rows, total = [], table.constant_ms
    for slot, op in space.active_ops(arch):
        label = slot_labels(space, slot)[0 if slot.dim is None else arch[slot.dim]]
        e = table.lookup(op.signature(), slot.name, label)
        if e is None and not op.is_identity:
            raise LUTError(f"the table times architecture {table.provenance['architecture']}, not {arch_text}: "
                           f"slot {slot.name} ({op.signature()}) is missing; pass --arch "
                           f"{table.provenance['architecture']}")
        total += e.ms if e else 0.0
        rows.append((slot.name, label, e.ms if e else 0.0, op.signature()))
    e2e = table.provenance.get("end_to_end_ms")
    print(f"space {space.name} {space.options}: the table times one network ({_missing_count(space, table)} "
          "other slot choices missing), so no bounds over the space")
    print(f"architecture {space.encoding_key(arch)}: {total:.3f} ms (operator sum)"
          + (f"; end-to-end {e2e:.3f} ms in the log" if e2e else ""))
    for name, label, ms, sig in rows:
        print(f"  {name:<14}{label:<8}{ms:9.4f} ms  {sig}")
    return 0


def _suggest_space(space, table, lut: str) -> bool:
    """When the table prices under half of the space, name the registered space it fits best."""
    from oneshot.latency.coverage import best_fits, space_fit

    here = space_fit(space, table)
    if here.fraction >= 0.5:
        return False
    fits = [f for f in best_fits(table) if f.matched > here.matched]
    if not fits:
        return False
    best = fits[0]
    print(f"wrong space? {lut} prices {here.matched} of {here.total} operators of {space.name}; it fits "
          f"{best.space}{best.cli_options()} best ({best.matched} of {best.total} operators"
          f"{', complete' if best.matched == best.total else ''})")
    for other in fits[1:]:
        print(f"  then {other.space}{other.cli_options()}: {other.matched} of {other.total}")
    print(f"fix: `oneshot lut check --space {best.space}{best.cli_options()} --lut {lut}`")
    return True


def _latency_bounds(space, table) -> tuple[float, float]:
    from oneshot.latency.pricing import latency_table

    return latency_table(space, table).bounds()["latency_ms"]

"""``oneshot lut profile``: time every distinct operator of a space on this device, resumably.

Each distinct ``OpSpec`` signature (stem, every candidate block, head, pool, classifier) is built
once and timed by the shared protocol (``timing.py``); identical signatures at several positions are
measured once and shared, and true identities cost 0 and are not timed. Samples are saved atomically
to ``<out>.partial`` after every round, so a killed profile continues where it stopped; an existing
table at ``<out>`` with the same protocol is extended with only the signatures it lacks.

Every round also times ``CALIBRATION_NETWORKS`` fixed, seeded architectures end-to-end as built
standalone networks, once each in a shuffled order (the regime ``lut validate`` measures in). Their
median time minus the sum of their operators' entries, over the same rounds (so machine-speed drift
cancels), is the *network overhead* no operator carries (module containers, identity layers,
dispatch); its median over the calibration networks is stored with the space's record and added to
every price. The first of them is also the *reference network*: its end-to-end median is stored,
and ``lut validate`` times it again next to the architectures it checks, so a machine that runs
faster or slower than while profiling (frequency, neighbours, cache regime) is told apart from a
wrong table.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from oneshot.atomic import atomic_write_json
from oneshot.errors import LUTError
from oneshot.spaces.layout import LayeredSpace

from .table import Entry, LatencyTable, load_table
from .timing import Protocol, call_timer, clock, environment, gc_paused, prepare, setup_torch, summarise

#: protocol fields that must match for samples or tables to be combined
_COMPATIBLE = ("device", "threads", "batch", "fold_bn", "allocator")
#: fixed architectures timed end-to-end in every round (the first is the reference network)
CALIBRATION_NETWORKS = 12
#: offset from the protocol seed to the seeds that draw the calibration architectures
_REFERENCE_SEED = 4242


def network_key(i: int) -> str:
    """Samples key of calibration network ``i`` timed end-to-end (never an operator signature)."""
    return f"@network{i}"


#: samples key of the reference network (calibration network 0) timed end-to-end
REFERENCE = network_key(0)


def reference_architecture(space: LayeredSpace, seed: int = 0, index: int = 0) -> np.ndarray:
    """Calibration architecture ``index`` (0: the reference network), fixed by the protocol seed."""
    return np.asarray(space.sample(np.random.default_rng(seed + _REFERENCE_SEED + index)), dtype=np.int64)


def build_timed(space: LayeredSpace, arch: Any, protocol: Protocol) -> Any:
    """``arch`` as a standalone network ready to time (eval, BN folded per protocol, on its device);
    weights are seeded (they do not change the time, but runs stay reproducible)."""
    import torch

    torch.manual_seed(protocol.seed)
    return prepare(space.build(arch), protocol)


def partial_path(out: str | os.PathLike) -> Path:
    out = Path(out)
    return out.with_name(out.name + ".partial")


def _compatible(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return all(a.get(k) == b.get(k) for k in _COMPATIBLE)


def space_record(space: LayeredSpace) -> dict[str, Any]:
    """What a profiled table records of a space; a file-defined or plugin space in full
    (``definition``: ``to_json``), so ``lut check`` rebuilds it without the file."""
    record = {"name": space.name, "options": dict(space.options), "fingerprint": space.fingerprint(),
              "resolution": space.resolution}
    data = space.to_json()
    if "spec" in data or ":" in space.name:
        record["definition"] = data
    return record


def space_reference(table: LatencyTable, space: LayeredSpace) -> dict[str, Any] | None:
    """The reference record (``arch``, ``ms``, ``count``) profiled with ``space``, if the table has one."""
    return (table.profiled_space(space.fingerprint()) or {}).get("reference")


def profile_space(space: LayeredSpace, out: str | os.PathLike, protocol: Protocol = Protocol(),
                  progress: bool = True, restart: bool = False) -> LatencyTable:
    """Profile every operator of ``space`` that ``out`` does not yet hold; write and return the table."""
    import torch

    from oneshot.spaces.blocks import make_op

    out = Path(out)
    setup_torch(protocol)
    proto = protocol.to_json()
    table = LatencyTable()
    if out.exists() and not restart:
        table = load_table(out)
        old = table.provenance.get("protocol", {})
        if not _compatible(old, proto):
            raise LUTError(f"{out} was profiled with a different protocol ({ {k: old.get(k) for k in _COMPATIBLE} }, "
                           f"now { {k: proto[k] for k in _COMPATIBLE} }); write to another --out or pass --restart")
    ops = {op.signature(): op for op in space.distinct_ops() if not op.is_identity}
    wanted = [sig for sig in ops if sig not in table.entries]
    part = partial_path(out)
    done: dict[str, list[float]] = {}
    if part.exists() and not restart:
        saved = json.loads(part.read_text())
        if _compatible(saved.get("protocol", {}), proto):
            done = {k: v for k, v in saved.get("samples", {}).items() if k in wanted or k.startswith("@")}
        else:
            raise LUTError(f"{part} holds samples of another protocol; delete it or pass --restart")

    calibration = None
    if wanted:
        gen = torch.Generator().manual_seed(protocol.seed)
        modules = {sig: prepare(make_op(op), protocol) for sig, op in ops.items()}
        x = torch.randn((protocol.batch, 3, space.resolution, space.resolution), generator=gen).to(protocol.device)
        cal_archs = [reference_architecture(space, protocol.seed, i) for i in range(CALIBRATION_NETWORKS)]
        networks = [(a, build_timed(space, a, protocol)) for a in cal_archs]

        def save(samples: dict[str, list[float]]) -> None:
            atomic_write_json(part, {"protocol": proto, "space": space_record(space), "samples": samples},
                              end="\n", mode=0o644, parents=True)

        bar = _progress_bar(progress, len(wanted) * protocol.repeats,
                            sum(min(len(v), protocol.repeats) for k, v in done.items() if k in wanted), space.name)
        try:
            samples = measure_chained(space, modules, x, protocol, wanted, done, on_round=save,
                                      progress=bar.update if bar is not None else None, networks=networks)
        finally:
            if bar is not None:
                bar.close()
        for sig in wanted:
            s = summarise(samples[sig])
            table.entries[sig] = Entry(s["ms"], s["std"], s["count"], s["median"])
        calibration = _calibration(samples, cal_archs, space, table)

    table.provenance = _provenance(table.provenance, space, protocol, proto, calibration)
    table.save(out)
    if part.exists():
        part.unlink()
    return table


def covering_architectures(space: LayeredSpace, rng: np.random.Generator) -> np.ndarray:
    """A few architectures that together use every candidate of every slot (shuffled per call).

    Architecture j takes choice ``perm_d[j mod size_d]`` in dimension d; depth dimensions are set to
    their largest value so every gated slot is active.
    """
    sizes = space.choice_counts
    depth_dims = {slot.gate[0] for slot in space.slots if slot.gate is not None}
    n = int(max((sizes[d] for d in range(len(sizes)) if d not in depth_dims), default=1))
    out = np.zeros((n, len(sizes)), dtype=np.int64)
    for d, size in enumerate(sizes):
        out[:, d] = size - 1 if d in depth_dims else rng.permutation(np.resize(np.arange(size), n))
    return out[rng.permutation(n)]


def _calibration(samples: dict[str, list[float]], archs: list[np.ndarray], space: LayeredSpace,
                 table: LatencyTable) -> dict[str, Any]:
    """The space record's ``reference`` and ``overhead_ms`` from the calibration samples."""
    ref = np.asarray(samples[network_key(0)])
    gaps = np.asarray([np.median(samples[network_key(i)]) - _sum_of_entries(space, table, a)
                       for i, a in enumerate(archs)])
    return {
        "reference": {"arch": [int(v) for v in archs[0]], "ms": float(np.median(ref)), "count": int(ref.size),
                      "what": "end-to-end median of this architecture, timed once per profiling round"},
        "overhead_ms": float(np.median(gaps)),
        "overhead": {"archs": [[int(v) for v in a] for a in archs], "per_network_ms": [float(g) for g in gaps],
                     "what": "median over these networks of (end-to-end median over the profiling rounds - sum "
                             "of their operators' entries); added to every price of this space"},
    }


def _sum_of_entries(space: LayeredSpace, table: LatencyTable, arch: np.ndarray) -> float:
    return float(sum(table.entries[op.signature()].ms for _, op in space.active_ops(arch) if not op.is_identity))


def measure_chained(space: LayeredSpace, modules: dict[str, Any], x: Any, protocol: Protocol,
                    wanted: list[str], done: dict[str, list[float]] | None = None,
                    on_round: Any = None, progress: Any = None,
                    networks: list[tuple[np.ndarray, Any]] | None = None) -> dict[str, list[float]]:
    """Time every operator *in context*: run covering architectures op by op, timing each call.

    Timing an operator alone in a tight loop keeps its weights and input hot in cache and reads
    20-30 % fast on small CPU layers; inside a network its input comes from the previous operator
    and its weights are cold. So each round runs architectures that together use every candidate,
    feeding each operator the real output of the one before and timing each call separately (CUDA:
    events + synchronise around each call). Samples of one signature from all positions and rounds
    pool into one mean. Each of ``networks`` ((arch, built network) pairs) is timed end-to-end once
    per round, in a shuffled order, under ``network_key(i)``. Returns signature -> samples (ms) for
    ``wanted`` (and the calibration keys).
    """
    import torch

    samples = {k: list(v) for k, v in (done or {}).items()}
    now = clock(protocol)
    cuda = protocol.device.startswith("cuda")
    time_call = call_timer(protocol)
    rng = np.random.default_rng(protocol.seed + len(samples))  # a resumed run draws new orders

    def run(arch: np.ndarray, record: bool) -> None:
        h = x
        for _, op in space.active_ops(arch):
            sig = op.signature()
            if op.is_identity:
                continue
            if cuda:
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                torch.cuda.synchronize(protocol.device)
                start.record()
                h = modules[sig](h)
                end.record()
                torch.cuda.synchronize(protocol.device)
                ms = float(start.elapsed_time(end))
            else:
                # the op's output feeds the next op, so this loop cannot go through call_timer
                t0 = now()
                h = modules[sig](h)
                ms = (now() - t0) * 1e3
            if record and sig in wanted_set and len(samples.setdefault(sig, [])) < protocol.repeats:
                samples[sig].append(ms)
                if progress is not None:
                    progress(1)

    wanted_set = set(wanted)
    with torch.inference_mode(), gc_paused():
        for _ in range(protocol.warmup):
            for arch in covering_architectures(space, rng):
                run(arch, False)
        while any(len(samples.get(k, [])) < protocol.repeats for k in wanted):
            for arch in covering_architectures(space, rng):
                run(arch, True)
            for i in rng.permutation(len(networks or [])):
                net = networks[i][1]
                samples.setdefault(network_key(int(i)), []).append(time_call(lambda net=net: net(x)))
            if on_round is not None:
                on_round(samples)
    return samples


def _provenance(old: dict[str, Any], space: LayeredSpace, protocol: Protocol, proto: dict[str, Any],
                calibration: dict[str, Any] | None) -> dict[str, Any]:
    env = environment(protocol)
    spaces = [s for s in old.get("spaces", []) if s.get("fingerprint") != space.fingerprint()]
    previous = [s for s in old.get("spaces", []) if s.get("fingerprint") == space.fingerprint()]
    record = space_record(space)
    # nothing re-timed (the table already covered the space): keep the earlier calibration
    calibration = calibration or {k: v for k, v in (previous[0] if previous else {}).items()
                                  if k in ("reference", "overhead_ms", "overhead")}
    record.update(calibration)
    spaces.append(record)
    return {
        "source": "oneshot lut profile",
        "device": env["device"], "device_name": env["device_name"], "torch": env["torch"],
        "python": env["python"], "platform": env["platform"], "cpu_count": env["cpu_count"],
        "threads": protocol.threads, "batch": protocol.batch, "resolution": space.resolution,
        "bn": "folded into conv" if protocol.fold_bn else "not folded (conv + BatchNorm2d)",
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "protocol": proto, "spaces": spaces,
        "included": "every distinct operator signature: stem, candidate blocks, head convs, global pool, "
                    "classifier; true identities cost 0 and are not listed; value = mean ms per call in context",
    }


def _progress_bar(enabled: bool, total: int, initial: int, name: str) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=initial, desc=f"profile {name}", unit="run", leave=False)

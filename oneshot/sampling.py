"""Path samplers for single-path supernet training: ``uniform``, ``fair``, ``roundrobin``.

A sampler answers ``step() -> list[Architecture]``: the paths trained on one mini-batch before one
optimizer step. All randomness comes from one ``numpy.random.Generator`` seeded at construction, so
the same seed gives the same path sequence (every DDP rank builds its sampler with the same seed and
therefore trains the same paths), and ``state_dict`` / ``load_state_dict`` let a resumed run continue
the sequence exactly. Framework-free (numpy only).

Rules (stated once here, tested in tests/training/test_sampling.py):

* ``uniform`` (SPOS): one path per step, every dimension i.i.d. uniform.
* ``fair`` (FairNAS strict fairness): ``M`` paths per step, ``M`` = the largest number of choices of
  any dimension. Every dimension draws its own random permutation of its choices each step; path
  ``j`` takes entry ``j``. A dimension with ``m < M`` choices concatenates fresh independent
  permutations and cuts the sequence to ``M`` entries, so each of its choices appears
  ``floor(M/m)`` or ``ceil(M/m)`` times per step (exactly ``M/m`` when ``m`` divides ``M``) and
  every run of ``m`` consecutive paths holds each choice once. With ``m == M`` every choice is
  trained exactly once per optimizer step, FairNAS's invariant.
* ``roundrobin`` (OSNASLib-style expectation fairness): one path per step; every dimension walks its
  own shuffled permutation and draws a new one when it is used up, so each choice is trained once
  per ``m`` consecutive steps.
* Elastic depth: a dimension whose slot is gated (active only when a depth dimension is large
  enough) is trained only on paths where it is active. ``fair`` therefore hands its balanced
  sequence to the *active* paths first (its choices are spread evenly over the paths that run the
  slot; inactive paths get the remainder, which changes nothing) and ``roundrobin`` advances a
  gated dimension's cycle only on steps where the slot is active. Depth dimensions themselves are
  sampled like any other dimension.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Callable, Sequence

import numpy as np

from oneshot.registry import Registry
from oneshot.spaces.core import Architecture, SearchSpace


def gates_of(space: SearchSpace) -> dict[int, tuple[int, int]]:
    """``dim -> (depth_dim, min_index)`` for dimensions whose slot is gated (elastic depth)."""
    out: dict[int, tuple[int, int]] = {}
    for slot in getattr(space, "slots", ()):
        if slot.gate is not None and slot.dim is not None:
            out[slot.dim] = (int(slot.gate[0]), int(slot.gate[1]))
    return out


def _gate_order(n_dims: int, gates: dict[int, tuple[int, int]]) -> list[int]:
    """Dimensions ordered so that a depth dimension comes before the dimensions it gates."""
    order: list[int] = []
    seen: set[int] = set()

    def visit(d: int, stack: tuple[int, ...] = ()) -> None:
        if d in seen:
            return
        if d in stack:
            raise ValueError(f"dimension {d} gates itself through {stack}")
        if d in gates:
            visit(gates[d][0], stack + (d,))
        seen.add(d)
        order.append(d)

    for d in range(n_dims):
        visit(d)
    return order


def active_mask(paths: np.ndarray, dim: int, gates: dict[int, tuple[int, int]]) -> np.ndarray:
    """Which rows of ``paths`` (n x dims) actually run dimension ``dim``'s slot."""
    mask = np.ones(len(paths), dtype=bool)
    while dim in gates:  # a gate may itself sit behind a gate
        depth_dim, min_index = gates[dim]
        mask &= paths[:, depth_dim] >= min_index
        dim = depth_dim
    return mask


class PathSampler(ABC):
    """Base class: seeded, deterministic, resumable."""

    name = "abstract"

    def __init__(self, space: SearchSpace, seed: int = 0):
        self.space = space
        self.seed = int(seed)
        self.rng = np.random.default_rng(self.seed)
        self.counts = np.asarray(space.choice_counts, dtype=np.int64)
        self.gates = gates_of(space)
        self.order = _gate_order(len(self.counts), self.gates)
        self.steps = 0

    @property
    @abstractmethod
    def paths_per_step(self) -> int:
        """How many paths one optimizer step trains."""

    def step(self) -> list[Architecture]:
        """The paths for the next optimizer step."""
        matrix = self._draw()
        self.steps += 1
        return [Architecture(row) for row in matrix]

    @abstractmethod
    def _draw(self) -> np.ndarray:
        """(paths_per_step, dims) int64 matrix."""

    # -------------------------------------------------------------- state
    def state_dict(self) -> dict[str, Any]:
        """Primitive containers only (fits a ``weights_only`` checkpoint)."""
        return {"name": self.name, "seed": self.seed, "steps": self.steps, "dims": self.counts.tolist(),
                "rng": self.rng.bit_generator.state, **self._extra_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if state.get("name") != self.name:
            raise ValueError(f"sampler state is for {state.get('name')!r}, not {self.name!r}")
        if list(state.get("dims", [])) != self.counts.tolist():
            raise ValueError("sampler state was saved for a space with other choice counts")
        self.seed = int(state["seed"])
        self.steps = int(state["steps"])
        self.rng.bit_generator.state = state["rng"]
        self._load_extra_state(state)

    def _extra_state(self) -> dict[str, Any]:
        return {}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        pass


class UniformSampler(PathSampler):
    """SPOS: one path per step, each dimension i.i.d. uniform."""

    name = "uniform"
    paths_per_step = 1

    def _draw(self) -> np.ndarray:
        return self.space.sample_matrix(self.rng, 1)


class FairSampler(PathSampler):
    """FairNAS strict fairness: ``M`` paths per step, one permutation per dimension (module docstring)."""

    name = "fair"

    def __init__(self, space: SearchSpace, seed: int = 0, paths: int | None = None):
        super().__init__(space, seed)
        self.m = int(paths) if paths is not None else int(self.counts.max())
        if self.m < 1:
            raise ValueError(f"fair sampling needs at least one path per step, got {paths}")

    @property
    def paths_per_step(self) -> int:
        return self.m

    def balanced_sequence(self, m: int, length: int) -> np.ndarray:
        """Fresh permutations of ``range(m)`` concatenated and cut to ``length``."""
        reps = -(-length // m)
        return np.concatenate([self.rng.permutation(m) for _ in range(reps)])[:length]

    def _draw(self) -> np.ndarray:
        paths = np.zeros((self.m, len(self.counts)), dtype=np.int64)
        for d in self.order:
            seq = self.balanced_sequence(int(self.counts[d]), self.m)
            if d in self.gates:
                active = active_mask(paths, d, self.gates)
                # the balanced prefix goes to the paths that run this slot, the rest to the others
                paths[np.flatnonzero(active), d] = seq[: int(active.sum())]
                paths[np.flatnonzero(~active), d] = seq[int(active.sum()):]
            else:
                paths[:, d] = seq
        return paths


class RoundRobinSampler(PathSampler):
    """One path per step; each dimension walks its own shuffled cycle (expectation fairness)."""

    name = "roundrobin"
    paths_per_step = 1

    def __init__(self, space: SearchSpace, seed: int = 0):
        super().__init__(space, seed)
        self.cycles = [self.rng.permutation(int(m)) for m in self.counts]
        self.pos = np.zeros(len(self.counts), dtype=np.int64)

    def _draw(self) -> np.ndarray:
        path = np.zeros((1, len(self.counts)), dtype=np.int64)
        for d in self.order:
            if self.pos[d] >= len(self.cycles[d]):
                self.cycles[d] = self.rng.permutation(int(self.counts[d]))
                self.pos[d] = 0
            path[0, d] = self.cycles[d][self.pos[d]]
            if d not in self.gates or active_mask(path, d, self.gates)[0]:
                self.pos[d] += 1  # a gated slot's cycle only moves when the slot really runs
        return path

    def _extra_state(self) -> dict[str, Any]:
        return {"cycles": [c.tolist() for c in self.cycles], "pos": self.pos.tolist()}

    def _load_extra_state(self, state: dict[str, Any]) -> None:
        self.cycles = [np.asarray(c, dtype=np.int64) for c in state["cycles"]]
        self.pos = np.asarray(state["pos"], dtype=np.int64)


SAMPLERS: Registry[Callable[..., PathSampler]] = Registry("samplers", "sampling")
SAMPLERS.register("uniform", UniformSampler, "SPOS: one path per step, every choice i.i.d. uniform")
SAMPLERS.register("fair", FairSampler, "FairNAS strict fairness: every choice trained once per optimizer step")
SAMPLERS.register("roundrobin", RoundRobinSampler,
                  "expectation fairness: one path per step, each choice once per cycle of its size")


def create_sampler(name: str, space: SearchSpace, seed: int = 0, **options: Any) -> PathSampler:
    """Build a sampler by name; an unknown name lists the valid ones."""
    return SAMPLERS.get(name)(space, seed, **options)


def fixed_paths(space: SearchSpace, n: int, seed: int) -> list[Architecture]:
    """``n`` distinct (by canonical key) uniformly sampled paths, for monitoring the same paths every epoch."""
    rng = np.random.default_rng(seed)
    out: dict[str, Architecture] = {}
    for _ in range(50 * max(n, 1)):
        if len(out) >= n:
            break
        arch = space.sample(rng)
        out.setdefault(space.key(arch), arch)
    return list(out.values())


def choice_usage(paths: Sequence[Sequence[int]], space: SearchSpace) -> list[np.ndarray]:
    """Per dimension, how often each choice runs in ``paths`` (inactive gated slots not counted)."""
    m = np.asarray(paths, dtype=np.int64).reshape(len(paths), -1)
    gates = gates_of(space)
    out = []
    for d, c in enumerate(space.choice_counts):
        col = m[active_mask(m, d, gates), d]
        out.append(np.bincount(col, minlength=int(c)))
    return out

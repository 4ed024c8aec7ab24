"""Framework-free search-space vocabulary: ``Dimension``, ``Architecture``, ``SearchSpace``.

Only the standard library and numpy are imported here, so strategies, the CLI's fast paths and
Pareto maths can use spaces without paying for torch.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np


class InvalidArchitectureError(ValueError):
    """An architecture does not fit its space; the message names the dimension and the valid range."""


@dataclass(frozen=True)
class Dimension:
    """One searchable decision: a name and the labels of its choices (index i -> ``choices[i]``)."""

    name: str
    choices: tuple[str, ...]

    def __post_init__(self) -> None:
        if len(self.choices) < 1:
            raise ValueError(f"dimension {self.name!r} needs at least one choice")
        if len(set(self.choices)) != len(self.choices):
            raise ValueError(f"dimension {self.name!r} has repeated choice labels {self.choices}")
        object.__setattr__(self, "choices", tuple(self.choices))

    @property
    def size(self) -> int:
        return len(self.choices)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "choices": list(self.choices)}


class Architecture(tuple):
    """An immutable tuple of choice indices, one per dimension of its space (hashable, sortable)."""

    def __new__(cls, indices: Iterable[int]) -> "Architecture":
        return super().__new__(cls, (int(i) for i in indices))

    def __repr__(self) -> str:
        return f"Architecture({list(self)})"

    def as_array(self) -> np.ndarray:
        return np.asarray(self, dtype=np.int64)


def _key_of(indices: Sequence[int], max_choices: int) -> str:
    # Digit strings are what users already know (NAS-Bench-Macro keys); every built-in space has
    # at most 10 choices per dimension. Wider spaces fall back to a dotted form.
    if max_choices <= 10:
        return "".join(str(int(i)) for i in indices)
    return ".".join(str(int(i)) for i in indices)


class SearchSpace:
    """An ordered list of named dimensions plus the macro structure that turns them into a network.

    Subclasses (the built-in spaces) provide ``layout()`` and ``canonicalize``; everything that
    treats architectures as vectors (sampling, mutation, crossover, validation, keys, JSON) is here.
    """

    #: registry name, set by ``register_space``
    name: str = "abstract"

    def __init__(self, dimensions: Sequence[Dimension], options: dict[str, Any] | None = None):
        names = [d.name for d in dimensions]
        if len(set(names)) != len(names):
            raise ValueError(f"dimension names must be unique, got {names}")
        self.dimensions: tuple[Dimension, ...] = tuple(dimensions)
        self.options: dict[str, Any] = dict(options or {})
        self._choice_counts = np.asarray([d.size for d in self.dimensions], dtype=np.int64)

    # ----------------------------------------------------------------- shape
    def __len__(self) -> int:
        return len(self.dimensions)

    @property
    def choice_counts(self) -> np.ndarray:
        """Number of choices per dimension (int64 array); pymoo's ``xu`` is this minus one."""
        return self._choice_counts.copy()

    @property
    def size(self) -> int:
        """Exact number of encodings (a Python int; can exceed 2**63)."""
        return math.prod(int(c) for c in self._choice_counts)

    def distinct_size(self) -> int | None:
        """Number of distinct networks after canonicalisation, when it is cheap to count exactly."""
        if self.size <= 200_000:
            return len({self.key(a) for a in self.enumerate()})
        return None

    def enumerate(self) -> Iterable[Architecture]:
        """Every encoding of the space in lexicographic order (only sensible for small spaces)."""
        import itertools

        for combo in itertools.product(*(range(d.size) for d in self.dimensions)):
            yield Architecture(combo)

    # ----------------------------------------------------------- validation
    def validate(self, arch: Sequence[int]) -> Architecture:
        """Return ``arch`` as an Architecture or raise InvalidArchitectureError naming the problem."""
        values = list(arch)
        if len(values) != len(self.dimensions):
            raise InvalidArchitectureError(
                f"space {self.name!r} has {len(self.dimensions)} dimensions but the architecture "
                f"has {len(values)} values; give one choice index per dimension "
                f"({', '.join(d.name for d in self.dimensions[:4])}, ...)"
            )
        for dim, value in zip(self.dimensions, values):
            if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
                if isinstance(value, (float, np.floating)) and float(value).is_integer():
                    value = int(value)
                else:
                    raise InvalidArchitectureError(
                        f"dimension {dim.name!r} of space {self.name!r}: {value!r} is not an integer "
                        f"choice index; valid indices are 0..{dim.size - 1} ({', '.join(dim.choices)})"
                    )
            if not 0 <= int(value) < dim.size:
                raise InvalidArchitectureError(
                    f"dimension {dim.name!r} of space {self.name!r}: choice index {int(value)} is out "
                    f"of range; valid indices are 0..{dim.size - 1} ({', '.join(dim.choices)})"
                )
        return Architecture(int(v) for v in values)

    def validate_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Check a batch (n x dims integer matrix) at once; raise naming the first bad row."""
        m = np.asarray(matrix)
        if m.ndim != 2 or m.shape[1] != len(self.dimensions):
            raise InvalidArchitectureError(
                f"expected an (n, {len(self.dimensions)}) matrix of choice indices for space "
                f"{self.name!r}, got shape {m.shape}"
            )
        bad = (m < 0) | (m >= self._choice_counts[None, :])
        if bad.any():
            row, col = map(int, np.argwhere(bad)[0])
            self.validate(m[row])  # raises with the precise message
        return m.astype(np.int64, copy=False)

    # ------------------------------------------------------------- sampling
    def sample(self, rng: np.random.Generator) -> Architecture:
        """One architecture, every dimension i.i.d. uniform."""
        return Architecture(self.sample_matrix(rng, 1)[0])

    def sample_matrix(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` architectures as an (n, dims) int64 matrix, i.i.d. uniform per dimension."""
        u = rng.random((n, len(self.dimensions)))
        return np.minimum((u * self._choice_counts).astype(np.int64), self._choice_counts - 1)

    def mutate(self, arch: Sequence[int], rng: np.random.Generator, prob: float = 0.1) -> Architecture:
        """Resample each gene with probability ``prob`` to a *different* choice (SPOS mutation)."""
        genes = np.asarray(arch, dtype=np.int64).copy()
        flips = rng.random(len(genes)) < prob
        for i in np.flatnonzero(flips):
            n = int(self._choice_counts[i])
            if n > 1:
                # shift by 1..n-1 so the new value always differs from the old one
                genes[i] = (genes[i] + 1 + rng.integers(n - 1)) % n
        return Architecture(genes)

    def crossover(self, a: Sequence[int], b: Sequence[int], rng: np.random.Generator) -> Architecture:
        """Uniform crossover: each gene from ``a`` or ``b`` with probability 1/2."""
        take_a = rng.random(len(self.dimensions)) < 0.5
        return Architecture(np.where(take_a, np.asarray(a), np.asarray(b)))

    # ----------------------------------------------------- canonical form
    def canonicalize(self, arch: Sequence[int]) -> Architecture:
        """Map equivalent encodings to one representative (identity by default)."""
        return Architecture(arch)

    def canonicalize_matrix(self, matrix: np.ndarray) -> np.ndarray:
        """Row-wise ``canonicalize``; subclasses may vectorise it."""
        return np.asarray([self.canonicalize(row) for row in np.asarray(matrix)], dtype=np.int64)

    def key(self, arch: Sequence[int] | str) -> str:
        """Canonical key: equal for equivalent encodings; a digit string for <= 10 choices per dim."""
        if isinstance(arch, str):
            arch = self.parse(arch)
        return _key_of(self.canonicalize(arch), int(self._choice_counts.max()))

    def encoding_key(self, arch: Sequence[int]) -> str:
        """The key of the encoding itself (not canonicalised)."""
        return _key_of(arch, int(self._choice_counts.max()))

    # --------------------------------------------------- strings, parsing
    def format(self, arch: Sequence[int]) -> str:
        """Readable form: the choice label of every dimension, joined by spaces (``parse`` reads it)."""
        arch = self.validate(arch)
        return " ".join(f"{d.name}={d.choices[i]}" for d, i in zip(self.dimensions, arch))

    def describe(self, arch: Sequence[int]) -> list[tuple[str, str]]:
        """(dimension name, chosen label) pairs for tables."""
        arch = self.validate(arch)
        return [(d.name, d.choices[i]) for d, i in zip(self.dimensions, arch)]

    def parse(self, text: str) -> Architecture:
        """Read an architecture from a key (``"01201122"``), a list (``"0,1,2"`` / ``"[0, 1]"``),
        or the readable ``name=label`` form written by ``format``; also the foreign forms of
        ``arch_forms`` (TuNAS indices, OFA net.config / ks-e-d JSON files)."""
        s = text.strip()
        if not s:
            raise InvalidArchitectureError(f"empty architecture string for space {self.name!r}")
        from .arch_forms import read_form

        foreign = read_form(self, s)
        if foreign is not None:
            return foreign
        if "=" in s:
            given = dict(tok.split("=", 1) for tok in s.split())
            unknown = set(given) - {d.name for d in self.dimensions}
            if unknown:
                raise InvalidArchitectureError(
                    f"unknown dimension(s) {sorted(unknown)} for space {self.name!r}; "
                    f"run `oneshot spaces show {self.name}` to list them"
                )
            out = []
            for d in self.dimensions:
                if d.name not in given:
                    raise InvalidArchitectureError(f"dimension {d.name!r} is missing from {text!r}")
                if given[d.name] not in d.choices:
                    raise InvalidArchitectureError(
                        f"dimension {d.name!r}: {given[d.name]!r} is not a choice; valid: {', '.join(d.choices)}"
                    )
                out.append(d.choices.index(given[d.name]))
            return Architecture(out)
        if re.fullmatch(r"\d+", s) and len(s) == len(self.dimensions):
            return self.validate([int(c) for c in s])
        if re.fullmatch(r"\d+", s) and len(self.dimensions) > 1 and int(self._choice_counts.max()) <= 10:
            raise InvalidArchitectureError(
                f"key {s!r} has {len(s)} digits but space {self.name!r} has {len(self.dimensions)} dimensions "
                f"({', '.join(d.name for d in self.dimensions[:4])}, ...): give one digit per dimension")
        tokens = [t for t in re.split(r"[\s,.:;\[\]()]+", s) if t]
        if not all(re.fullmatch(r"-?\d+", t) for t in tokens):
            raise InvalidArchitectureError(
                f"cannot read {text!r} as an architecture of {self.name!r}: give a key of "
                f"{len(self.dimensions)} digits, comma-separated indices, or name=label pairs"
            )
        return self.validate([int(t) for t in tokens])

    # ------------------------------------------------------------------ JSON
    def to_json(self) -> dict[str, Any]:
        """Self-description carried by checkpoints and run directories."""
        return {
            "name": self.name,
            "options": self.options,
            "dimensions": [d.to_json() for d in self.dimensions],
        }

    def fingerprint(self) -> str:
        """Short hash of the JSON form: two spaces with equal fingerprints build the same networks."""
        import hashlib

        blob = json.dumps(self.to_json(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options.items())
        return f"<SearchSpace {self.name}({opts}): {len(self)} dims, {self.size} encodings>"


def space_from_json(data: dict[str, Any]) -> SearchSpace:
    """Rebuild a space from ``SearchSpace.to_json`` and check it matches: from its recorded space-file
    description (``"spec"``) where it has one, else through the registry (a name, or a plugin's
    ``package.module:factory``, imported here)."""
    from .registry import create_space

    if not isinstance(data, dict) or "name" not in data:
        raise ValueError("not a search-space description: expected a JSON object with a 'name' field")
    if "spec" in data:
        from .spec_file import space_from_spec

        space = space_from_spec(data["spec"], f"the recorded description of space {data['name']!r}",
                                **data.get("options", {}))
    else:
        space = create_space(data["name"], **data.get("options", {}))
    if "dimensions" in data and [d.to_json() for d in space.dimensions] != data["dimensions"]:
        raise ValueError(
            f"the stored description of space {data['name']!r} does not match this version of oneshot "
            f"(dimensions differ); it was written by another version or edited by hand"
        )
    return space

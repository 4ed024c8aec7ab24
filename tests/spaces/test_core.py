"""The framework-free vocabulary, parametrised over every registered space."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from oneshot.spaces import (Architecture, InvalidArchitectureError, create_space, list_spaces,
                            space_from_json)

SPACES = list_spaces()


@pytest.fixture(params=SPACES)
def space(request):
    return create_space(request.param)


def test_registry_lists_builtin_spaces():
    assert {"tiny", "proxylessnas", "nas-bench-macro"} <= set(SPACES)


def test_unknown_space_lists_valid_names():
    with pytest.raises(ValueError, match="valid spaces: .*tiny"):
        create_space("no-such-space")


def test_unknown_option_lists_valid_options():
    with pytest.raises(ValueError, match="valid options: resolution"):
        create_space("tiny", depth=3)


def test_size_is_exact_python_int(space):
    expected = 1
    for d in space.dimensions:
        expected *= d.size
    assert space.size == expected and isinstance(space.size, int)


def test_seeded_sampling_is_deterministic(space):
    a = space.sample_matrix(np.random.default_rng(7), 50)
    b = space.sample_matrix(np.random.default_rng(7), 50)
    assert np.array_equal(a, b)
    space.validate_matrix(a)
    # every choice of every dimension shows up with enough samples
    big = space.sample_matrix(np.random.default_rng(1), 4000)
    for j, d in enumerate(space.dimensions):
        assert set(np.unique(big[:, j])) == set(range(d.size))


def test_mutation_changes_only_flipped_genes(space, rng):
    arch = space.sample(rng)
    same = space.mutate(arch, rng, prob=0.0)
    assert same == arch
    changed = space.mutate(arch, rng, prob=1.0)
    for d, x, y in zip(space.dimensions, arch, changed):
        assert (x != y) or d.size == 1
    space.validate(changed)


def test_crossover_takes_genes_from_parents(space, rng):
    a, b = space.sample(rng), space.sample(rng)
    child = space.crossover(a, b, rng)
    assert all(c in (x, y) for c, x, y in zip(child, a, b))


def test_validation_names_dimension_and_range(space):
    arch = list(space.sample(np.random.default_rng(0)))
    arch[0] = space.dimensions[0].size
    with pytest.raises(InvalidArchitectureError, match=rf"{space.dimensions[0].name!r}.*0\.\.{space.dimensions[0].size - 1}"):
        space.validate(arch)
    with pytest.raises(InvalidArchitectureError, match="dimensions"):
        space.validate(arch[:-1])
    with pytest.raises(InvalidArchitectureError, match="not an integer"):
        space.validate(["a"] + arch[1:])


def test_json_round_trip(space):
    data = json.loads(json.dumps(space.to_json()))
    again = space_from_json(data)
    assert again.to_json() == space.to_json()
    assert again.fingerprint() == space.fingerprint()


def test_mismatched_json_is_rejected(space):
    data = space.to_json()
    data["dimensions"] = data["dimensions"][:-1]
    with pytest.raises(ValueError, match="does not match"):
        space_from_json(data)


def test_format_parse_round_trip(space, rng):
    for _ in range(5):
        arch = space.sample(rng)
        assert space.parse(space.format(arch)) == arch
        assert space.parse(space.encoding_key(arch)) == arch
        assert space.parse(",".join(map(str, arch))) == arch


def test_parse_errors_are_specific(space):
    with pytest.raises(InvalidArchitectureError):
        space.parse("not an arch")
    with pytest.raises(InvalidArchitectureError, match="unknown dimension"):
        space.parse("nosuchdim=foo")


def test_canonical_key_is_idempotent_and_keeps_network(space, rng):
    m = space.sample_matrix(rng, 200)
    canon = space.canonicalize_matrix(m)
    assert np.array_equal(space.canonicalize_matrix(canon), canon)
    for row, crow in zip(m[:20], canon[:20]):
        assert space.key(row) == space.encoding_key(crow)


def test_architecture_is_hashable_tuple():
    a = Architecture([1, 2, 3])
    assert a == (1, 2, 3) and hash(a) == hash((1, 2, 3))


def test_core_does_not_import_torch():
    code = ("import sys; import oneshot.spaces as s; sp = s.create_space('proxylessnas'); "
            "sp.sample_matrix(__import__('numpy').random.default_rng(0), 3); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_nas_bench_macro_has_3969_distinct_networks():
    space = create_space("nas-bench-macro")
    assert space.size == 6561
    assert space.distinct_size() == 3969
    # identities move to the end of a stage (positions after the stride-2 layer)
    assert space.key("01201000") == space.key("01210000")
    assert space.key("10000000") != space.key("01000000")  # the stride-2 identity is a conv


def test_a_key_of_the_wrong_length_says_so():
    from oneshot.spaces import create_space

    with pytest.raises(InvalidArchitectureError, match="key '0123' has 4 digits but space 'nas-bench-macro' has 8"):
        create_space("nas-bench-macro").parse("0123")

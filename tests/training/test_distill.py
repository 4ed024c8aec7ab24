"""In-place distillation: the teacher is the largest path, it gets no gradient, fairness holds."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from oneshot.costs.counting import flops_params_table
from oneshot.errors import ConfigError
from oneshot.sampling import create_sampler
from oneshot.spaces import create_space
from oneshot.spaces.core import SearchSpace, Dimension
from oneshot.training.distill import distill_loss, largest_path
from oneshot.training.step import train_step

from .test_step import _count_gradients, _setup


@pytest.mark.parametrize("name", ["nas-bench-macro", "tiny", "mobilenetv3", "tfnas"])
def test_largest_path_has_the_most_parameters_of_the_space(name):
    space = create_space(name)
    table = flops_params_table(space)
    arch = largest_path(space)
    assert table.price_one(arch)["params"] == table.bounds()["params"][1]


def test_largest_path_of_nas_bench_macro_is_every_layer_e6k5():
    space = create_space("nas-bench-macro")
    assert space.format(largest_path(space)) == " ".join(f"l{i}=e6k5" for i in range(8))


def test_largest_path_needs_a_layered_space():
    flat = SearchSpace([Dimension("a", ("x", "y"))])
    with pytest.raises(ConfigError, match="--distill needs a layered space"):
        largest_path(flat)


def test_distill_loss_blends_labels_and_teacher():
    logits = torch.randn(5, 4)
    label = nn.CrossEntropyLoss()(logits, torch.arange(5) % 4)
    probs = torch.softmax(logits, 1)
    assert torch.allclose(distill_loss(logits, probs, label, 0.0), label)
    assert distill_loss(logits, probs, label, 1.0).abs() < 1e-6  # the student already is the teacher
    other = torch.softmax(torch.randn(5, 4), 1)
    assert distill_loss(logits, other, label, 1.0) > 0


def test_fair_step_with_a_teacher_still_gives_each_choice_exactly_one_gradient():
    space, net, opt, x, y = _setup(resolution=16)
    sampler = create_sampler("fair", space, seed=3)
    counts, handles = _count_gradients(net)
    train_step(net, sampler.step(), x, y, nn.CrossEntropyLoss(), opt, teacher=largest_path(space), distill=0.5)
    for h in handles:
        h.remove()
    m = sampler.paths_per_step
    for s, slot in enumerate(space.slots):
        if slot.dim is None:
            continue
        k = space.dimensions[slot.dim].size
        per_choice = [counts[(s, c)] for c in range(k)]
        # the teacher (every slot at its largest choice) adds nothing to what the sampler gave
        assert sum(per_choice) == m and set(per_choice) <= {m // k, -(-m // k)}, (slot.name, per_choice)


def test_teacher_changes_the_step_only_when_distill_is_on():
    def grads(**kw):
        space, net, opt, x, y = _setup(resolution=16)
        paths = create_sampler("fair", space, seed=3).step()
        teacher = largest_path(space)
        train_step(net, paths, x, y, nn.CrossEntropyLoss(), opt, teacher=teacher, **kw)
        return [p.detach().clone() for p in net.parameters()]

    plain, off, on = grads(distill=0.0), grads(distill=0.0), grads(distill=0.7)
    assert all(torch.equal(a, b) for a, b in zip(plain, off))
    assert any(not torch.equal(a, b) for a, b in zip(plain, on))

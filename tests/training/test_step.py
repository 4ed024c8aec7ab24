"""One training step: fair gives every candidate op exactly one gradient; inactive ops stay untouched."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from oneshot.sampling import create_sampler
from oneshot.spaces import create_space
from oneshot.supernet import Supernet
from oneshot.training.loop import lr_factor, param_groups
from oneshot.training.config import TrainConfig
from oneshot.training.step import train_step


def _setup(space_name="tiny", **opts):
    torch.manual_seed(0)
    torch.set_num_threads(1)
    space = create_space(space_name, **opts)
    net = Supernet(space).train()
    opt = torch.optim.SGD(param_groups(net, 4e-5), lr=0.1, momentum=0.9)
    x = torch.randn(4, 3, space.resolution, space.resolution)
    y = torch.randint(0, space.num_classes, (4,))
    return space, net, opt, x, y


def _count_gradients(net: Supernet):
    """Per searchable slot and choice: how many backward passes produced a gradient for that op."""
    counts: dict[tuple[int, int], int] = {}
    handles = []
    for s, (slot, cands) in enumerate(zip(net.space.slots, net.slots)):
        if slot.dim is None:
            continue
        for c, module in enumerate(cands):
            counts[(s, c)] = 0
            params = list(module.parameters())
            if params:
                def hook(grad, key=(s, c)):
                    counts[key] += 1
                handles.append(params[0].register_hook(hook))
            else:  # a parameter-free identity: its output's gradient is its contribution
                def fwd(mod, inp, out, key=(s, c)):
                    if out.requires_grad:
                        out.register_hook(lambda g, key=key: counts.__setitem__(key, counts[key] + 1))
                handles.append(module.register_forward_hook(fwd))
    return counts, handles


def test_fair_step_gives_each_choice_exactly_one_gradient():
    space, net, opt, x, y = _setup(resolution=16)
    sampler = create_sampler("fair", space, seed=3)
    m = sampler.paths_per_step
    for _ in range(2):
        counts, handles = _count_gradients(net)
        train_step(net, sampler.step(), x, y, nn.CrossEntropyLoss(), opt)
        for h in handles:
            h.remove()
        for s, slot in enumerate(space.slots):
            if slot.dim is None:
                continue
            k = space.dimensions[slot.dim].size
            per_choice = [counts[(s, c)] for c in range(k)]
            if k == m:
                assert per_choice == [1] * m, (slot.name, per_choice)
            else:  # the stated rule for fewer choices than M
                assert sum(per_choice) == m and set(per_choice) <= {m // k, -(-m // k)}, (slot.name, per_choice)


def test_uniform_step_leaves_inactive_ops_untouched():
    space, net, opt, x, y = _setup()
    arch = create_sampler("uniform", space, seed=0).step()[0]
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    train_step(net, [arch], x, y, nn.CrossEntropyLoss(), opt)
    active = {id(p) for p in net.path_parameters(arch)}
    changed = 0
    for name, p in net.named_parameters():
        if id(p) in active:
            assert p.grad is not None, name
            changed += not torch.equal(p, before[name])
        else:
            assert p.grad is None, name
            assert torch.equal(p, before[name]), name  # no weight decay or momentum on unused ops
            assert p not in opt.state or "momentum_buffer" not in opt.state[p]
    assert changed > 0


def test_step_on_elastic_depth_space_trains_only_active_blocks():
    space, net, opt, x, y = _setup("mobilenetv3", resolution=16, num_classes=10)
    paths = create_sampler("fair", space, seed=0).step()
    train_step(net, paths, x[:2], y[:2], nn.CrossEntropyLoss(), opt)
    used = {id(p) for arch in paths for p in net.path_parameters(arch)}
    for p in net.parameters():
        assert (p.grad is not None) == (id(p) in used)


def test_schedule_cosine_warmup_and_step():
    cfg = TrainConfig(epochs=4, lr=0.1, warmup_epochs=1, min_lr=0.01)
    f = lr_factor(cfg, 10)
    assert f(0) == pytest.approx(0.1) and f(9) == pytest.approx(1.0)
    assert f(10) == pytest.approx(1.0) and f(39) > 0.1 and f(40) == pytest.approx(0.1)
    assert all(f(s) >= f(s + 1) for s in range(10, 40))
    g = lr_factor(TrainConfig(epochs=4, schedule="step", step_epochs=2), 10)
    assert (g(19), g(20), g(39)) == (1.0, pytest.approx(0.1), pytest.approx(0.1))


def test_param_groups_decay_only_weights():
    _, net, _, _, _ = _setup()
    decay, no_decay = param_groups(net, 1e-4)
    assert all(p.dim() > 1 for p in decay["params"]) and all(p.dim() == 1 for p in no_decay["params"])
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(net.parameters()))

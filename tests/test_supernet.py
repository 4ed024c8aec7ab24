"""Supernet paths equal their extracted standalone networks; only the active path gets gradients."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from oneshot.spaces import create_space, list_spaces
from oneshot.supernet import Supernet


@pytest.mark.parametrize("name", list_spaces())
def test_extract_matches_supernet_path_in_eval_mode(name):
    torch.manual_seed(0)
    space = create_space(name)
    supernet = Supernet(space).eval()
    x = torch.randn(2, 3, space.resolution, space.resolution)
    for arch in space.sample_matrix(np.random.default_rng(1), 2):
        sub = supernet.extract(arch).eval()
        with torch.no_grad():
            assert torch.allclose(supernet(x, arch), sub(x), atol=1e-5)
        # same structure as the freshly built network, parameter for parameter
        built = space.build(arch)
        assert [p.shape for p in sub.parameters()] == [p.shape for p in built.parameters()]


def test_only_active_path_receives_gradients():
    space = create_space("tiny")
    supernet = Supernet(space).train()
    arch = space.sample(np.random.default_rng(0))
    out = supernet(torch.randn(4, 3, 32, 32), arch)
    out.sum().backward()
    active = {id(p) for p in supernet.path_parameters(arch)}
    for p in supernet.parameters():
        if id(p) in active:
            assert p.grad is not None
        else:
            assert p.grad is None

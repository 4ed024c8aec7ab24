"""Frozen-supernet evaluator: BN policies, determinism, caching, validation-split scoring."""
from __future__ import annotations

import pytest
import torch

from oneshot.checkpoint import save_checkpoint
from oneshot.data import load_data
from oneshot.errors import ConfigError
from oneshot.evaluation import EvaluatorSpec
from oneshot.evaluation.bn_policies import BN_POLICIES
from oneshot.evaluation.supernet_evaluator import SupernetEvaluator
from oneshot.spaces import create_space
from oneshot.supernet import Supernet


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A tiny-space supernet on the embedded digits data, with perturbed BN statistics so that the
    policies give different answers (no training needed for these properties)."""
    torch.set_num_threads(1)
    torch.manual_seed(0)
    space = create_space("tiny")
    data = load_data("digits", space.resolution, seed=0)
    net = Supernet(space)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.normal_(0, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    path = tmp_path_factory.mktemp("ckpt") / "supernet.pt"
    save_checkpoint(path, {"space": space.to_json(), "model": net.state_dict(), "data": data.info,
                           "config": {}, "versions": {}})
    return str(path)


def make(checkpoint, **kw):
    kw.setdefault("calib_images", 128)
    kw.setdefault("calib_batch", 64)
    kw.setdefault("val_images", 100)
    return SupernetEvaluator(checkpoint, **kw)


def test_scores_are_deterministic_order_independent_and_cached(checkpoint):
    ev = make(checkpoint, bn_policy="ema")
    space = ev.space
    a, b = space.sample(__import__("numpy").random.default_rng(1)), space.sample(__import__("numpy").random.default_rng(2))
    first = ev.evaluate([a, b])
    assert all(r.ok for r in first) and set(first[0].metrics) == {"accuracy", "loss"}
    ev2 = make(checkpoint, bn_policy="ema")
    again = ev2.evaluate([b, a])  # other order, fresh evaluator
    assert again[1].metrics == first[0].metrics and again[0].metrics == first[1].metrics
    assert 0.0 <= first[0].metrics["accuracy"] <= 100.0 and first[0].metrics["loss"] > 0
    assert first[0].key == space.key(a)
    ev._cache[space.key(a)] = {"accuracy": -1.0, "loss": -1.0}  # cached by canonical key: not recomputed
    assert ev.evaluate([a])[0].metrics["accuracy"] == -1.0


def test_policies_differ_and_none_keeps_supernet_statistics(checkpoint):
    import numpy as np

    arch = create_space("tiny").sample(np.random.default_rng(3))
    scores = {p: make(checkpoint, bn_policy=p).evaluate([arch])[0].metrics["loss"] for p in BN_POLICIES}
    assert len({round(v, 6) for v in scores.values()}) >= 3, scores
    ev = make(checkpoint, bn_policy="train-mode")
    bn = next(m for m in ev.supernet.modules() if isinstance(m, torch.nn.BatchNorm2d))
    before = bn.running_mean.clone()
    ev.evaluate([arch])
    assert torch.equal(bn.running_mean, before), "train-mode must not change stored statistics"


def test_exact_policy_is_the_average_over_the_calibration_subset(checkpoint):
    import numpy as np

    # the per-architecture path leaves the statistics in the modules (the engine keeps them per trie
    # node and scores bitwise the same: tests/evaluation/test_prefix_engine.py)
    ev = make(checkpoint, bn_policy="exact", calib_images=128, calib_batch=128, engine=False)
    arch = ev.space.sample(np.random.default_rng(4))
    ev.evaluate([arch])
    # with one calibration batch, the exact statistics of the first BN are that batch's statistics
    first_bn = ev._path_bns(arch)[0]
    stem = next(ev.supernet.path_modules(arch))
    acts = {}
    h = first_bn.register_forward_pre_hook(lambda m, i: acts.setdefault("x", i[0].detach().clone()))
    stem.eval()
    with torch.no_grad():
        stem(ev._calib[0])
    h.remove()
    x = acts["x"]
    assert torch.allclose(first_bn.running_mean, x.mean(dim=(0, 2, 3)), atol=1e-5)
    # rtol: the calibration pass runs channels-last on CPU, so sums are taken in another order
    assert torch.allclose(first_bn.running_var, x.var(dim=(0, 2, 3), unbiased=True), rtol=1e-4, atol=1e-4)


def test_spec_creates_it_and_bad_options_explain(checkpoint):
    ev = EvaluatorSpec("supernet", {"checkpoint": checkpoint, "bn_policy": "none", "val_images": 50}).create()
    assert ev.describe()["bn_policy"] == "none" and ev.describe()["val_images"] == 50
    assert len(ev.describe()["checkpoint_sha256"]) == 64
    with pytest.raises(ConfigError, match="valid: ema, exact, train-mode, none"):
        make(checkpoint, bn_policy="precise")


def test_search_over_a_supernet(checkpoint, tmp_path):
    import json

    from oneshot.search import SearchConfig, SearchRun, parse_objective

    cfg = SearchConfig(EvaluatorSpec("supernet", {"checkpoint": checkpoint, "bn_policy": "ema", "calib_images": 64,
                                                  "calib_batch": 64, "val_images": 64}),
                       str(tmp_path / "s"), strategy="random", strategy_params={"batch_size": 4},
                       objectives=[parse_objective("accuracy:max"), parse_objective("params:min")], budget=8,
                       supernet=checkpoint, progress=False)
    summary = SearchRun(cfg).run()
    assert summary["evaluations"] == 8 and summary["front_size"] >= 1
    meta = json.loads((tmp_path / "s" / "search.json").read_text())
    assert meta["identity"]["files"]["supernet"]["sha256"] == meta["evaluator_info"]["checkpoint_sha256"]
    assert meta["evaluator_info"]["calib_images"] == 64


def test_cli_supernet_search_minimises_the_loss_by_default(checkpoint, tmp_path):
    import json

    from oneshot.cli.main import main

    out = tmp_path / "s"
    assert main(["search", "--supernet", checkpoint, "--strategy", "random", "--budget", "4", "--calib-images", "32",
                 "--val-images", "32", "--out", str(out), "--no-progress"]) == 0
    identity = json.loads((out / "search.json").read_text())["identity"]
    assert "loss" in json.dumps(identity["objectives"]) and "accuracy" not in json.dumps(identity["objectives"])


def test_cli_search_scores_on_the_test_split_when_asked(checkpoint, tmp_path):
    import json

    from oneshot.cli.main import main

    out = tmp_path / "s"
    assert main(["search", "--supernet", checkpoint, "--strategy", "random", "--budget", "4", "--calib-images", "32",
                 "--val-images", "32", "--score-test", "--out", str(out), "--no-progress"]) == 0
    run = json.loads((out / "search.json").read_text())
    assert run["identity"]["evaluator"]["options"]["score_test"] is True
    n_test = len(load_data("digits", create_space("tiny").resolution, seed=0).test)
    assert run["evaluator_info"]["score_test"] and run["evaluator_info"]["val_images"] == 32 + n_test

"""The prefix-sharing engine scores exactly what the per-architecture evaluator scores."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from oneshot.checkpoint import save_checkpoint
from oneshot.data import load_data
from oneshot.evaluation.prefix_engine import PrefixEngine, default_cache_mb
from oneshot.evaluation.bn_policies import BN_POLICIES
from oneshot.evaluation.supernet_evaluator import SupernetEvaluator
from oneshot.spaces import create_space, list_spaces
from oneshot.supernet import Supernet


def _options(name: str) -> dict:
    # every space at its smallest sensible size so the test stays fast; the engine does not care
    from oneshot.spaces import space_options

    return {"resolution": 32} if "resolution" in space_options(name) else {}


def _checkpoint(tmp_path, name: str) -> str:
    torch.manual_seed(0)
    space = create_space(name, **_options(name))
    data = load_data("digits", space.resolution, seed=0)
    net = Supernet(space)
    for m in net.modules():
        if isinstance(m, torch.nn.BatchNorm2d):  # distinct stored statistics, so "none" differs too
            m.running_mean.normal_(0, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    path = tmp_path / f"{name}.pt"
    save_checkpoint(path, {"space": space.to_json(), "model": net.state_dict(), "data": data.info,
                           "config": {}, "versions": {}})
    return str(path)


def _archs(space, n: int, seed: int) -> list:
    rng = np.random.default_rng(seed)
    base = [space.sample(rng) for _ in range(n)]
    # children that differ from a parent in one gene: shared prefixes of every length
    kids = []
    for a in base[: n // 2]:
        a = list(a)
        d = int(rng.integers(len(a)))
        a[d] = int(rng.integers(space.dimensions[d].size))
        kids.append(a)
    return base + kids


_SMALL = {"tiny", "nas-bench-macro"}


@pytest.mark.parametrize("name", [n if n in _SMALL else pytest.param(n, marks=pytest.mark.slow) for n in list_spaces()])
def test_engine_scores_equal_plain_evaluator_bitwise(name, tmp_path, one_thread):
    ckpt = _checkpoint(tmp_path, name)
    for policy in BN_POLICIES:
        kw = dict(bn_policy=policy, calib_images=48, calib_batch=16, val_images=40, eval_batch=16)
        plain = SupernetEvaluator(ckpt, engine=False, **kw)
        fast = SupernetEvaluator(ckpt, engine=True, score_cache_mb=64, **kw)
        archs = _archs(plain.space, 3, seed=len(name))
        want = plain.evaluate(archs)
        got = fast.evaluate(archs)
        assert [r.key for r in got] == [r.key for r in want]
        for w, g in zip(want, got):
            assert w.ok and g.ok, (w.error, g.error)
            assert g.metrics == w.metrics, (name, policy, w.arch)  # exact float equality
        if policy == "exact":  # a second call starts from cached prefixes and must still agree
            more = _archs(plain.space, 2, seed=len(name) + 1)
            assert [r.metrics for r in fast.evaluate(more)] == [r.metrics for r in plain.evaluate(more)]


def test_supernet_statistics_untouched_and_order_independent(tmp_path, one_thread):
    ckpt = _checkpoint(tmp_path, "nas-bench-macro")
    ev = SupernetEvaluator(ckpt, bn_policy="exact", calib_images=32, calib_batch=16, val_images=32, eval_batch=16,
                           score_cache_mb=0)
    before = {k: v.clone() for k, v in ev.supernet.state_dict().items()}
    archs = _archs(ev.space, 6, seed=3)
    first = [r.metrics for r in ev.evaluate(archs)]
    after = ev.supernet.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)
    ev2 = SupernetEvaluator(ckpt, bn_policy="exact", calib_images=32, calib_batch=16, val_images=32, eval_batch=16)
    assert [r.metrics for r in ev2.evaluate(archs[::-1])] == first[::-1]


def test_prefixes_are_computed_once(tmp_path, one_thread):
    ckpt = _checkpoint(tmp_path, "nas-bench-macro")
    ev = SupernetEvaluator(ckpt, bn_policy="exact", calib_images=16, calib_batch=16, val_images=16, eval_batch=16,
                           score_cache_mb=0)
    archs = [[1, 1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 1, 1, 1, 2], [1, 1, 1, 1, 2, 2, 2, 2]]
    ev.evaluate(archs)
    paths = [ev._engine.path(a) for a in archs]
    distinct = {tuple(s for s, _ in p[: d + 1]) for p in paths for d in range(len(p))}
    assert ev._engine.module_runs == len(distinct) * 2  # one calibration and one validation batch
    assert len(distinct) < sum(len(p) for p in paths)


def test_cache_reuse_and_budget(tmp_path, one_thread):
    ckpt = _checkpoint(tmp_path, "nas-bench-macro")
    kw = dict(bn_policy="exact", calib_images=32, calib_batch=16, val_images=32, eval_batch=16)
    budget_mb = 16
    ev = SupernetEvaluator(ckpt, score_cache_mb=budget_mb, **kw)
    engine = ev._engine
    rng = np.random.default_rng(0)
    parents = [ev.space.sample(rng) for _ in range(8)]
    ev.evaluate(parents)
    assert 0 < engine.cache.nbytes <= budget_mb * 2**20
    runs = engine.module_runs
    child = list(parents[0])
    child[-1] = (child[-1] + 1) % 3
    if ev.space.key(child) in ev._cache:
        child[-2] = (child[-2] + 1) % 3
    ev.evaluate([child])
    # started from a cached prefix: fewer module runs than the whole path on every batch
    full = len(engine.path(child)) * (len(engine.calib) + len(engine.val))
    assert engine.module_runs - runs < full and engine.cache.hits > 0
    assert engine.cache.peak_nbytes <= budget_mb * 2**20
    # many more architectures: the cache never grows past its budget
    ev.evaluate([ev.space.sample(rng) for _ in range(40)])
    assert engine.cache.peak_nbytes <= budget_mb * 2**20


def test_cache_off_and_default_budget(tmp_path, one_thread):
    ckpt = _checkpoint(tmp_path, "tiny")
    ev = SupernetEvaluator(ckpt, bn_policy="exact", calib_images=16, calib_batch=16, val_images=16, score_cache_mb=0)
    assert ev._engine.cache is None and ev.describe()["engine"] == "prefix"
    assert 0 <= default_cache_mb() <= 4096
    with pytest.raises(Exception, match="score-cache-mb"):
        SupernetEvaluator(ckpt, score_cache_mb=-1)


def test_empty_and_invalid_architectures(tmp_path, one_thread):
    ckpt = _checkpoint(tmp_path, "tiny")
    ev = SupernetEvaluator(ckpt, bn_policy="exact", calib_images=16, calib_batch=16, val_images=16)
    assert ev.evaluate([]) == []
    good = ev.space.sample(np.random.default_rng(0))
    res = ev.evaluate([[99] * len(good), good, good])
    assert not res[0].ok and res[1].ok and res[2].metrics == res[1].metrics
    assert isinstance(ev._engine, PrefixEngine)


def test_training_images_in_the_score_and_the_held_out_part_alone(tmp_path, one_thread):
    ckpt = _checkpoint(tmp_path, "nas-bench-macro")
    kw = dict(bn_policy="exact", calib_images=32, calib_batch=16, val_images=32, eval_batch=16)
    base = SupernetEvaluator(ckpt, **kw)
    more = SupernetEvaluator(ckpt, score_train_images=48, **kw)
    plain = SupernetEvaluator(ckpt, score_train_images=48, engine=False, **kw)
    assert more.metric_names == ("accuracy", "loss", "val_accuracy", "val_loss")
    archs = _archs(base.space, 4, seed=5)
    got = [r.metrics for r in more.evaluate(archs)]
    assert got == [r.metrics for r in plain.evaluate(archs)]
    for b, g in zip(base.evaluate(archs), got):
        assert b.metrics["accuracy"] == g["val_accuracy"] and b.metrics["loss"] == g["val_loss"]
    assert more.describe()["score_train_images"] == 48 and more.describe()["val_images"] == 32
    with pytest.raises(Exception, match="val-images"):
        SupernetEvaluator(ckpt, val_images=0)


def test_the_test_split_in_the_score(tmp_path, one_thread):
    ckpt = _checkpoint(tmp_path, "nas-bench-macro")
    kw = dict(bn_policy="exact", calib_images=32, calib_batch=16, val_images=32, eval_batch=16)
    base = SupernetEvaluator(ckpt, **kw)
    with_test = SupernetEvaluator(ckpt, score_test=True, **kw)
    n_test = len(load_data("digits", base.space.resolution, seed=0).test)
    assert with_test.describe()["val_images"] == 32 + n_test and with_test.describe()["score_test"]
    assert with_test.metric_names == ("accuracy", "loss")  # every scored image is held out
    archs = _archs(base.space, 4, seed=6)
    got = [r.metrics for r in with_test.evaluate(archs)]
    assert got == [r.metrics for r in SupernetEvaluator(ckpt, score_test=True, engine=False, **kw).evaluate(archs)]
    assert all(b.metrics["loss"] != g["loss"] for b, g in zip(base.evaluate(archs), got))
    # with training images as well, the held-out part is validation + test
    both = SupernetEvaluator(ckpt, score_test=True, score_train_images=48, **kw)
    for g, m in zip(got, (r.metrics for r in both.evaluate(archs))):
        assert g["loss"] == pytest.approx(m["val_loss"]) and g["accuracy"] == pytest.approx(m["val_accuracy"])


def test_score_test_needs_a_test_split(tmp_path, one_thread):
    rng = np.random.default_rng(0)
    npz = tmp_path / "no_test.npz"
    np.savez(npz, train_x=rng.integers(0, 255, (60, 8, 8, 3), dtype=np.uint8), train_y=np.arange(60) % 3)
    space = create_space("tiny", **_options("tiny"))
    data = load_data(f"npz:{npz}", space.resolution, seed=0)
    path = tmp_path / "sn.pt"
    save_checkpoint(path, {"space": space.to_json(), "model": Supernet(space).state_dict(), "data": data.info,
                           "config": {}, "versions": {}})
    with pytest.raises(Exception, match="no test split; drop --score-test"):
        SupernetEvaluator(str(path), bn_policy="exact", calib_images=16, score_test=True)

"""benchmarks/ranking_nbm.py's measurement pieces, on the packaged NAS-Bench-Macro ground truth."""
from __future__ import annotations

import csv
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import ranking_nbm  # noqa: E402


@pytest.fixture(scope="module")
def truth():
    return ranking_nbm.universe()[1]


def test_universe_and_sample(truth):
    assert len(truth) == 3969  # distinct networks of the 6,561 encodings
    keys = ranking_nbm.sample_keys(list(truth), 500, 0)
    assert len(set(keys)) == 500 and keys == ranking_nbm.sample_keys(list(truth), 500, 0)
    assert ranking_nbm.sample_keys(list(truth), 500, 1) != keys
    assert len(ranking_nbm.sample_keys(list(truth), 0, 0)) == 3969


def _write(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def test_regret_against_the_free_choice_and_the_true_best(truth, tmp_path):
    # a "front" of three networks: the picks under each budget are the best-scored that fit
    items = sorted(truth.items(), key=lambda kv: kv[1][2])
    under = {b: [kv for kv in items if kv[1][2] <= b] for b in ranking_nbm.BUDGETS}
    best = {b: max(under[b], key=lambda kv: kv[1][1]) for b in ranking_nbm.BUDGETS}
    rows = [{"key": k, "accuracy": 50.0 + i, "loss": 1.0 - 0.1 * i, "macs": v[2], "error": ""}
            for i, (k, v) in enumerate(best[b] for b in ranking_nbm.BUDGETS)]
    _write(tmp_path / "pareto.csv", rows)
    _write(tmp_path / "history.csv", rows)
    out = ranking_nbm.regret(tmp_path, truth)
    # the published numbers for this benchmark: free choice 84.79 / 88.93 / 89.95, best 89.38 / 91.86 / 92.57
    assert [round(out[b]["most_macs_true"], 2) for b in ("30M", "45M", "60M")] == [84.79, 88.93, 89.95]
    assert [round(out[b]["true_best"], 2) for b in ("30M", "45M", "60M")] == [89.38, 91.86, 92.57]
    assert all(out[b]["regret"] == pytest.approx(0.0) for b in ("30M", "45M", "60M"))
    assert ranking_nbm.regret(tmp_path, truth, "loss")["60M"]["regret"] == pytest.approx(0.0)


def test_regret_picks_by_the_smoothed_column_and_reports_the_raw_front(truth, tmp_path):
    """pareto.csv ranked by loss_smoothed (a search's default): the pick follows that column, while
    raw_front_regret re-derives the front of the raw losses from history.csv."""
    items = sorted(truth.items(), key=lambda kv: kv[1][2])
    fits = [kv for kv in items if kv[1][2] <= 30e6]
    best = max(fits, key=lambda kv: kv[1][1])
    worse = min(fits, key=lambda kv: kv[1][1])
    history = [{"key": best[0], "loss": 1.0, "macs": best[1][2], "feasible": "1", "error": ""},
               {"key": worse[0], "loss": 2.0, "macs": worse[1][2], "feasible": "1", "error": ""}]
    # the smoothed loss prefers the worse network; both are on its front if it is also cheaper
    front = [dict(r, loss_smoothed=s) for r, s in zip(history, (2.0, 1.0))]
    _write(tmp_path / "history.csv", history)
    _write(tmp_path / "pareto.csv", front)
    out = ranking_nbm.regret(tmp_path, truth, "loss")
    assert out["front_ranked_by"] == "loss_smoothed"
    assert out["30M"]["picked_key"] == worse[0]
    assert out["30M"]["regret"] == pytest.approx(best[1][1] - worse[1][1])
    assert out["30M"]["raw_front_regret"] == pytest.approx(0.0)


def test_bias_analysis_recovers_the_truth_from_truthful_scores(truth, tmp_path, capsys):
    """A "supernet" whose losses are minus the true accuracy has the truth's per-layer effects, ranks
    with the additive fit's tau, and its fit picks nearly the best network; a noisy copy averaged
    with another noisy copy (an ensemble) ranks better than either."""
    import json

    import numpy as np

    import ranking_nbm_bias

    keys = ranking_nbm.sample_keys(list(truth), 500, 0)
    rng = np.random.default_rng(0)
    def write(name, loss):
        ranking_nbm.score_cache(tmp_path, name, 0, 256).write_text(json.dumps(
            {"scores": {k: {"loss": float(v), "accuracy": 0.0} for k, v in zip(keys, loss)}}))
    acc = np.array([truth[k][1] for k in keys])
    write("truthful", -acc)
    write("noisy-a", -acc + rng.normal(0, 6, len(keys)))
    write("noisy-b", -acc + rng.normal(0, 6, len(keys)))
    out = tmp_path / "bias.json"
    assert ranking_nbm_bias.main(["--work", str(tmp_path), "--results", str(out),
                                  "--ensemble", "noisy-a+noisy-b", "--macs-prior", "1", "--macs-prior", "1e4"]) == 0
    res = json.loads(out.read_text())
    prior = {r["supernet"]: r for r in res["macs_prior"]}
    macs_tau = next(r["kendall_tau"] for r in res["smoothed_ranking"] if r["supernet(s)"] == "MACs (free)")
    # a cost prior pulls the truthful ranking towards MACs' order: worse, and MACs' own at a huge weight
    assert prior["truthful"]["W = 1"] < prior["truthful"]["W = 0"]
    assert prior["noisy-a"]["W = 10000"] == pytest.approx(macs_tau, abs=0.01)
    effects = {r["fit of"]: r for r in res["layer_effects"]}
    def values(row):
        return np.array([[float(v) for v in row[f"l{i}"].split("/")] for i in range(8)])
    assert np.abs(values(effects["truthful"]) - values(effects["truth (this sample)"])).max() < 0.011
    # the sample's fit is the whole benchmark's up to sampling error
    assert np.abs(values(effects["truthful"]) - values(effects["truth (all networks)"])).max() < 0.6
    assert effects["truth (this sample)"]["l5-l7 / l0-l2"] < 0.6  # the truth puts its accuracy early
    tau = {r["supernet(s)"]: r["kendall_tau"] for r in res["smoothed_ranking"]}
    assert tau["truthful"] > 0.8 > tau["MACs (free)"]
    assert tau["noisy-a+noisy-b"] > max(tau["noisy-a"], tau["noisy-b"])
    picks = {r["supernet(s)"]: r for r in res["fit_pick_regret"]}
    assert all(picks["truthful"][b] < 1.0 for b in ("30M", "45M", "60M"))
    with pytest.raises(SystemExit, match="no score cache"):
        ranking_nbm_bias.main(["--work", str(tmp_path), "--recipe", "absent", "--results", str(out)])


def test_score_test_caches_are_their_own(truth, tmp_path):
    """ranking_nbm.py --score-test caches apart from the validation-only scores, and the bias analysis
    reads one kind or the other, never a mix."""
    import json

    import ranking_nbm_bias

    assert ranking_nbm.score_cache(tmp_path, "x", 0, 256, True) != ranking_nbm.score_cache(tmp_path, "x", 0, 256)
    keys = ranking_nbm.sample_keys(list(truth), 500, 0)
    ranking_nbm.score_cache(tmp_path, "both", 0, 256, True).write_text(json.dumps(
        {"scores": {k: {"loss": -truth[k][1], "accuracy": 0.0} for k in keys}}))
    out = tmp_path / "bias.json"
    with pytest.raises(SystemExit, match="no score caches"):
        ranking_nbm_bias.main(["--work", str(tmp_path), "--results", str(out)])
    assert ranking_nbm_bias.main(["--work", str(tmp_path), "--results", str(out), "--score-test"]) == 0
    res = json.loads(out.read_text())
    assert res["score_test"] and [r["supernet(s)"] for r in res["smoothed_ranking"]] == ["both", "MACs (free)"]
    with pytest.raises(SystemExit, match="--score-test first"):
        ranking_nbm_bias.main(["--work", str(tmp_path), "--results", str(out), "--score-test", "--recipe", "gone"])


def test_discordant_pairs_are_disjoint_close_in_macs_and_most_discordant_first():
    import numpy as np

    from ranking_nbm_standalone import discordant_pairs

    acc = np.array([90.0, 85.0, 89.0, 86.0, 70.0, 60.0])
    z = np.array([-1.0, 1.0, -0.5, 0.2, 2.0, -2.0])
    macs = np.array([30e6, 31e6, 30e6, 30.5e6, 30e6, 80e6])
    pairs = discordant_pairs(acc, z, macs, pairs=5, min_truth_gap=1.5, min_z_gap=0.5, max_log_macs=0.1, max_macs=45e6)
    # strength = min(truth gap / 1.5, z gap / 0.5): (0, 4) 6.0 first, then (2, 1) 2.7 beats (2, 3) 1.4,
    # and 3 has no partner left
    assert pairs == [(0, 4), (2, 1)]
    flat = [i for p in pairs for i in p]
    assert len(flat) == len(set(flat)) and 5 not in flat  # disjoint; the 80M network is over the cap
    for i, j in pairs:
        assert acc[i] - acc[j] >= 1.5 and z[j] - z[i] >= 0.5
    assert discordant_pairs(acc, acc, macs, pairs=3, min_truth_gap=1.5, min_z_gap=0.5, max_log_macs=0.1,
                            max_macs=45e6) == []  # a score that agrees with the truth has no discordant pair


def _fake_standalone(run_dir, key, acc):
    import json

    (run_dir / key).mkdir(parents=True, exist_ok=True)
    (run_dir / key / "result.json").write_text(json.dumps(
        {"finished": True, "key": key, "val_accuracy": acc, "test_accuracy": acc,
         "data": {"sizes": {"train": 4194, "val": 466, "test": 846}}, "train_seconds_this_run": 1.0}))


def test_landmarks_reweight_a_supernet_with_a_planted_late_layer_bias(truth, tmp_path, capsys):
    """Scores whose last stage is four times too large; landmarks that report the true accuracy
    (as if trained alone, already on disk: nothing is trained) give the layers back their sizes."""
    import json

    import numpy as np

    import ranking_nbm_landmarks
    from oneshot.search.smoothing import fit_additive, layer_contributions

    space, uni = ranking_nbm.universe()
    keys = ranking_nbm.sample_keys(list(truth), 500, 0)
    allk = sorted(uni)
    truth_fit = fit_additive(space, [uni[k][0] for k in allk], [uni[k][1] for k in allk])
    parts = layer_contributions(truth_fit, [uni[k][0] for k in keys])
    biased = parts @ np.array([0.5, 0.5, 0.5, 1, 1, 4, 4, 4])
    ranking_nbm.score_cache(tmp_path, "biased", 0, 256).write_text(json.dumps(
        {"scores": {k: {"loss": float(-b), "accuracy": 0.0} for k, b in zip(keys, biased)}}))
    (tmp_path / "supernet-biased").mkdir()
    (tmp_path / "supernet-biased" / "supernet.pt").write_bytes(b"")
    run_dir = tmp_path / "standalone-e12-s0"
    for key in ranking_nbm_landmarks.pick_landmarks(space, 16, 0, 60e6):
        _fake_standalone(run_dir, key, float(truth_fit.predict([uni[key][0]])[0]))
    out = tmp_path / "landmarks.json"
    assert ranking_nbm_landmarks.main(["--work", str(tmp_path), "--recipe", "biased", "--landmarks", "16",
                                       "--results", str(out)]) == 0
    row = json.loads(out.read_text())["rows"][0]
    assert row["landmarks"] == 16 and row["networks"] >= 484
    assert row["reweighted"] > row["smoothed"] + 0.1 and row["reweighted"] > 0.8
    assert np.mean(row["layer_weights"][:3]) > np.mean(row["layer_weights"][5:])
    assert "reweighted" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="no supernet"):
        ranking_nbm_landmarks.main(["--work", str(tmp_path), "--recipe", "absent", "--results", str(out)])


def _planted_depth_bias(truth, work):
    """A cached "biased" recipe in ``work``: the truth's additive fit with its layers weighted by
    exp(2 t) (the late ones too large), as minus the loss of 500 sampled networks. Returns
    (space, universe, sampled keys, the truth's additive fit, the biased scores)."""
    import json

    import numpy as np

    from oneshot.search.smoothing import fit_additive, layer_contributions

    space, uni = ranking_nbm.universe()
    keys = ranking_nbm.sample_keys(list(truth), 500, 0)
    allk = sorted(uni)
    truth_fit = fit_additive(space, [uni[k][0] for k in allk], [uni[k][1] for k in allk])
    biased = layer_contributions(truth_fit, [uni[k][0] for k in keys]) @ np.exp(2.0 * np.linspace(0, 1, 8))
    ranking_nbm.score_cache(work, "biased", 0, 256).write_text(json.dumps(
        {"scores": {k: {"loss": float(-b), "accuracy": 0.0} for k, b in zip(keys, biased)}}))
    return space, uni, keys, truth_fit, biased


def test_depth_trend_undoes_a_planted_depth_bias(truth, tmp_path, capsys):
    """Scores whose layers grow in weight with depth (exp(2 t)); landmark pairs proposed from those
    scores, reporting the true accuracy (already on disk: nothing is trained), recover a negative
    trend and rank far better than the biased fit."""
    import json

    import numpy as np

    import ranking_nbm_bias
    import ranking_nbm_depth_trend

    space, uni, keys, truth_fit, biased = _planted_depth_bias(truth, tmp_path)
    (tmp_path / "supernet-biased").mkdir()
    (tmp_path / "supernet-biased" / "supernet.pt").write_bytes(b"")
    pairs = ranking_nbm_depth_trend.design(space, uni, ranking_nbm_bias.cached_scores(tmp_path, "biased", 256),
                                           6, 60e6, 0, 20000)
    assert len(pairs) == 6 and all(abs(np.log(uni[a][2] / uni[b][2])) <= np.log(1.05) + 1e-9 for a, b in pairs)
    for key in (k for p in pairs for k in p):
        _fake_standalone(tmp_path / "standalone-e12-s0", key, float(truth_fit.predict([uni[key][0]])[0]))
    out = tmp_path / "trend.json"
    assert ranking_nbm_depth_trend.main(["--work", str(tmp_path), "--recipe", "biased", "--pairs", "6",
                                         "--results", str(out)]) == 0
    row = json.loads(out.read_text())["rows"][0]
    assert row["landmarks"] == 12 and row["networks"] >= 488
    assert row["beta_low"] <= -2.0 + 0.3 and row["beta"] == pytest.approx(-2.0, abs=0.3)
    assert row["corrected"]["kendall_tau"] > row["smoothed"]["kendall_tau"] + 0.05
    assert "search" not in row  # no search run in this work directory: no regret to report
    assert "corrected" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="no supernet"):
        ranking_nbm_depth_trend.main(["--work", str(tmp_path), "--recipe", "absent", "--results", str(out)])
    # --pairs-from: a validation-only supernet reuses the landmarks another supernet's +test scores proposed
    import shutil

    shutil.copy(ranking_nbm.score_cache(tmp_path, "biased", 0, 256), ranking_nbm.score_cache(tmp_path, "design", 0, 256, True))
    assert ranking_nbm_depth_trend.main(["--work", str(tmp_path), "--recipe", "biased", "--pairs", "6",
                                         "--pairs-from", "design+test", "--results", str(out)]) == 0
    assert json.loads(out.read_text())["pairs"] == [list(p) for p in pairs]
    with pytest.raises(SystemExit, match="no score cache for recipe .design."):  # no validation-only scores
        ranking_nbm_depth_trend.main(["--work", str(tmp_path), "--recipe", "biased", "--pairs-from", "design",
                                      "--results", str(out)])
    with pytest.raises(SystemExit):
        ranking_nbm_depth_trend.main(["--work", str(tmp_path), "--recipe", "biased", "--pairs-from", "design+val",
                                      "--results", str(out)])
    assert "expected NAME or NAME+test" in capsys.readouterr().err


def test_standalone_pairs_report_whose_side_training_alone_takes(truth, tmp_path, capsys):
    import json

    import numpy as np

    import ranking_nbm_standalone

    keys = ranking_nbm.sample_keys(list(truth), 500, 0)
    acc = np.array([truth[k][1] for k in keys])
    macs = np.array([truth[k][2] for k in keys])
    # a "supernet" that prefers MACs over the truth: discordant pairs exist
    ranking_nbm.score_cache(tmp_path, "macs", 0, 256).write_text(json.dumps(
        {"scores": {k: {"loss": float(-np.log(m) - 0.01 * a), "accuracy": 0.0} for k, m, a in zip(keys, macs, acc)}}))
    (tmp_path / "supernet-macs").mkdir()
    (tmp_path / "supernet-macs" / "supernet.pt").write_bytes(b"")
    args = ["--work", str(tmp_path), "--recipe", "macs", "--pairs", "2", "--max-log-macs", "0.3"]
    assert ranking_nbm_standalone.main([*args, "--dry-run"]) == 0
    lines = [line for line in capsys.readouterr().out.splitlines() if "truly better than" in line]
    assert len(lines) == 2
    run_dir = tmp_path / "standalone-e12-s0"
    for line in lines:  # "training alone" agrees with the truth in the first pair, not in the second
        better, worse = line.split()[0], line.split("truly better than ")[1].split()[0]
        first = line is lines[0]
        _fake_standalone(run_dir, better, 60.0 if first else 50.0)
        _fake_standalone(run_dir, worse, 55.0)
    out = tmp_path / "pairs.json"
    assert ranking_nbm_standalone.main([*args, "--results", str(out)]) == 0
    summary = json.loads(out.read_text())["summary"]
    assert summary["pairs_done"] == 2 and summary["sides_with_truth"] == 1 and summary["sides_with_supernets"] == 1
    assert summary["mean_standalone_gap"] == pytest.approx(0.0)


def test_pick_diagnostics_read_the_landmarks_and_the_reranked_search(truth, tmp_path, capsys):
    """The regret diagnostics (ranking_nbm_pick.py) on a planted depth bias: they train and score
    nothing, the truth's additive fit ranks far above the biased scores, both trend fits see the
    bias, and every decision rule picks among the search's evaluated networks."""
    import json

    import numpy as np

    import ranking_nbm_bias
    import ranking_nbm_depth_trend
    import ranking_nbm_pick

    space, uni, keys, truth_fit, biased = _planted_depth_bias(truth, tmp_path)
    out = tmp_path / "pick.json"
    args = ["--work", str(tmp_path), "--recipe", "biased", "--pairs", "6", "--no-score-test", "--sample", "300",
            "--sample-seeds", "2", "--results", str(out)]
    with pytest.raises(SystemExit, match="was not trained"):
        ranking_nbm_pick.main(args)
    pairs = ranking_nbm_depth_trend.design(space, uni, ranking_nbm_bias.cached_scores(tmp_path, "biased", 256),
                                           6, 60e6, 0, 20000)
    for key in (k for p in pairs for k in p):
        _fake_standalone(tmp_path / "standalone-e12-s0", key, float(truth_fit.predict([uni[key][0]])[0]))
    original = tmp_path / f"search-biased-loss-{ranking_nbm._setting(0, 256, False)}-s0"
    search = original.with_name(original.name + "-depth-trend")  # the copy the depth-trend run re-ranked
    for folder in (original, search):
        folder.mkdir()
        (folder / "DONE").write_text("")
    evaluated = keys[:300]
    (search / "history.csv").write_text("key,loss,error\n" + "".join(f"{k},{float(-b)!r},\n" for k, b in zip(evaluated, biased)))
    assert ranking_nbm_pick.main(args) == 0
    data = json.loads(out.read_text())
    forms = {r["form"]: r for r in data["form_ceiling"] if r["sample_seed"] == 0}
    assert set(forms) == {"additive", "additive + adjacent pairs", "additive + all pairs"}
    assert forms["additive"]["kendall_tau"] > 0.75 and forms["additive + all pairs"]["features"] > 100
    measured, true = data["landmark_measurement"]
    assert measured["targets"].startswith("stand-alone") and true["targets"].startswith("true")
    assert measured["beta"] < -1.0 and true["beta"] < -0.5  # both see the planted trend
    rules = {r["rule"]: r for r in data["decision_rules"]}
    assert len(rules) == 5 and all(r["evaluated"] == 300 for r in rules.values())
    evaluated_truth = [uni[k][1] for k in evaluated]
    for rule in rules.values():
        for b, budget in zip(("30M", "45M", "60M"), ranking_nbm.BUDGETS):
            best_evaluated = max(t for k, t in zip(evaluated, evaluated_truth) if uni[k][2] <= budget)
            true_best = max(v[1] for v in uni.values() if v[2] <= budget)
            assert rule["regret"][b] >= true_best - best_evaluated - 1e-9  # a pick among the evaluated ones
    assert "decision rules" in capsys.readouterr().out


def test_ranking_numbers_keep_the_held_out_score_apart_from_the_training_images(truth):
    # val_* is the held-out score; the val+train loss (what the search ranks by) is reported
    # raw and smoothed next to it, each on its own numbers
    space = ranking_nbm.universe()[0]
    keys = ranking_nbm.sample_keys(list(truth), 200, 0)
    acc = {k: truth[k][1] for k in keys}
    scores = {k: {"accuracy": 0.0, "loss": 100.0 - acc[k], "val_accuracy": acc[k],
                  "val_loss": float(i % 7)} for i, k in enumerate(keys)}
    out = ranking_nbm.ranking_numbers(keys, scores, truth, space)
    assert out["supernet accuracy (val)"]["kendall_tau"] == pytest.approx(1.0)
    assert abs(out["supernet -loss (val)"]["kendall_tau"]) < 0.2  # the val loss here is noise
    assert out["supernet -loss (val+train)"]["kendall_tau"] == pytest.approx(1.0)
    assert out["supernet -loss (val+train), smoothed"]["kendall_tau"] > 0.8
    assert out["supernet -loss (val+train), smoothed"]["n"] == 200

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

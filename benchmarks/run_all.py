"""Run every benchmark script, then rewrite ``benchmarks/RESULTS.md`` from ``benchmarks/results/*.json``.

    python benchmarks/run_all.py                 # run all, then write RESULTS.md
    python benchmarks/run_all.py --only ranking  # run some, RESULTS.md still lists every result file
    python benchmarks/run_all.py --report-only   # just regenerate RESULTS.md from the JSON files

Each ``benchmarks/<name>.py`` prints a table and writes ``benchmarks/results/<name>.json``. The JSON
is the source of truth; this page is generated from it, so the numbers in the README can always be
traced to one run on one stated machine. A script that fails is reported and the others still run.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from oneshot.atomic import atomic_write_text

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
REPORT = HERE / "RESULTS.md"
README = HERE.parent / "README.md"
README_START, README_END = "<!-- results:start -->", "<!-- results:end -->"
SKIP = {"run_all"}
# The depth-trend result files, each with what tells its rows apart in the README (the supernets of
# the first files were trained on an earlier machine; the later ones are retrained under the same names).
DEPTH_TREND_RUNS = {
    "ranking_nbm_depth_trend": "first supernets, no front completion",
    "ranking_nbm_depth_trend_completion": "retrained supernets, front completion",
    "ranking_nbm_depth_trend_rerun_no_completion": "retrained supernets, no front completion",
    "ranking_nbm_depth_trend_rounds3": "retrained supernets, 3 completion rounds",
    "ranking_nbm_depth_trend_e20": "10 vs 20 epochs (retrained), front completion",
    "ranking_nbm_depth_trend_e20_val": "20 epochs (retrained), validation-only score (the search default), "
                                       "landmarks proposed from the 10-epoch supernet, front completion",
    "ranking_nbm_depth_trend_e30": "30 epochs (retrained), front completion",
}

# The ranking_nbm result files, each with what tells its supernets apart in the README.
RANKING_NBM_RUNS = {
    "ranking_nbm": "",
    "ranking_nbm_rerun": " (retrained on another machine)",
    "ranking_nbm_train_images": " (retrained on a third machine)",
    "ranking_nbm_e30": " (third machine)",
}


def machine_info() -> dict[str, Any]:
    """The machine the benchmarks ran on (recorded in RESULTS.md next to the numbers)."""
    info: dict[str, Any] = {"platform": platform.platform(), "python": platform.python_version(),
                            "cpu_count": os.cpu_count()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        info["cpu"] = platform.processor()
    try:
        import torch

        info["torch"] = torch.__version__
        info["torch_threads"] = torch.get_num_threads()
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    except ImportError:
        pass
    return info


def scripts() -> list[Path]:
    return sorted(p for p in HERE.glob("*.py") if p.stem not in SKIP and not p.stem.startswith("_"))


def run_scripts(names: list[str] | None, timeout_s: float) -> list[dict[str, Any]]:
    """Run the scripts (all, or those named) one after another; never stop at a failure."""
    outcomes = []
    todo = scripts()
    if names:
        unknown = set(names) - {p.stem for p in todo}
        if unknown:
            raise SystemExit(f"unknown benchmark(s) {sorted(unknown)}; valid: {', '.join(p.stem for p in todo)}")
        todo = [p for p in todo if p.stem in names]
    for script in todo:
        print(f"=== {script.stem}", flush=True)
        start = time.perf_counter()
        try:
            rc = subprocess.run([sys.executable, str(script)], cwd=HERE.parent, timeout=timeout_s).returncode
        except subprocess.TimeoutExpired:
            rc = "timeout"
        seconds = time.perf_counter() - start
        outcomes.append({"name": script.stem, "returncode": rc, "seconds": round(seconds, 1)})
        print(f"=== {script.stem}: {'ok' if rc == 0 else f'FAILED ({rc})'} in {seconds:.0f} s", flush=True)
    return outcomes


# ------------------------------------------------------------------------------------ report
def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, tuple)) and len(value) > 8:
        return f"[{len(value)} values]"
    if isinstance(value, dict):
        return json.dumps(value, default=str)[:120]
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(rows: list[dict[str, Any]]) -> list[str]:
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns and not isinstance(row[c], (dict, list))]
    if not columns:
        return []
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        lines.append("| " + " | ".join(_fmt(row.get(c, "")) for c in columns) + " |")
    return lines


def _section(name: str, data: dict[str, Any]) -> list[str]:
    """One benchmark's JSON as markdown: summary/targets, its table(s), then its machine."""
    lines = [f"## {name}", ""]
    if data.get("description"):
        lines += [str(data["description"]), ""]
    if data.get("command"):
        lines += [f"Command: `{data['command']}`", ""]
    machine = data.get("machine") or data.get("machine_info") or data.get("env")
    tables = {k: v for k, v in data.items() if isinstance(v, list) and v and all(isinstance(r, dict) for r in v)}
    scalars = {k: v for k, v in data.items() if k not in tables and k not in
               {"description", "command", "machine", "machine_info", "env"}}
    for key, value in scalars.items():
        if isinstance(value, dict) and all(not isinstance(v, (dict, list)) for v in value.values()):
            lines.append(f"- **{key}**: " + ", ".join(f"{k} = {_fmt(v)}" for k, v in value.items()))
        else:
            lines.append(f"- **{key}**: {_fmt(value)}")
    if scalars:
        lines.append("")
    for key, rows in tables.items():
        table = _table(rows)
        if table:
            lines += [f"**{key}**", ""] + table + [""]
    if isinstance(machine, dict):
        lines += ["Machine: " + ", ".join(f"{k} = {_fmt(v)}" for k, v in machine.items()), ""]
    return lines


def write_report(outcomes: list[dict[str, Any]] | None = None) -> Path:
    """Regenerate RESULTS.md from every ``results/*.json`` (atomically)."""
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = ["# Benchmark results", "",
             f"Generated by `python benchmarks/run_all.py` (`make bench`) on {now} from "
             "`benchmarks/results/*.json`; do not edit by hand. Each section states the machine its numbers "
             "were measured on; ratios are taken within one run.", "",
             "Machine generating this page: " + ", ".join(f"{k} = {_fmt(v)}" for k, v in machine_info().items()),
             ""]
    if outcomes:
        lines += ["| script | status | seconds |", "|---|---|---|"]
        lines += [f"| {o['name']} | {'ok' if o['returncode'] == 0 else 'FAILED (' + str(o['returncode']) + ')'} "
                  f"| {o['seconds']} |" for o in outcomes]
        lines.append("")
    files = sorted(RESULTS.glob("*.json"))
    if not files:
        lines.append("No results yet: run `make bench`.")
    for path in files:
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            lines += [f"## {path.stem}", "", f"(unreadable: {exc})", ""]
            continue
        lines += _section(path.stem, data if isinstance(data, dict) else {"value": data})
    atomic_write_text(REPORT, "\n".join(lines).rstrip() + "\n")
    return REPORT


def _headlines(name: str, data: dict[str, Any]) -> list[str]:
    """One or two table rows of headline numbers for the README, read from a result file."""
    rows: list[str] = []
    if name == "cost_tables":
        for r in data.get("results", []):
            rows.append(f"| MACs+params pricing, {r['space']} | {r['table_archs_per_s']:,.0f} archs/s vs fvcore "
                        f"{r['fvcore_archs_per_s']:.2f} archs/s | {r['speedup']:,.0f}x, identical counts: {r['same_answer']} |")
    elif name == "pricing":
        for r in data.get("results", []):
            rows.append(f"| latency+MACs+params pricing, {r['case']} | {r['archs_per_s']:,.0f} archs/s (batch "
                        f"{r['batch']:,}) | target >= 1,000,000/s; {r['speedup_vs_loop']:.0f}x a per-arch loop |")
    elif name == "search_quality":
        for r in data.get("results", []):
            if r.get("variant") in ("random", "evolution", "nsga2"):
                rows.append(f"| NAS-Bench-Macro front found, {r['variant']} (10 seeds) | "
                            f"{r['front_found_%@200']} % / {r['front_found_%@500']} % / {r['front_found_%@1000']} % "
                            f"at 200/500/1000 evals | hypervolume@1000 {r['hv@1000']} |")
    elif name == "train_step":
        for r in data.get("results", []):
            rows.append(f"| supernet step vs extracted subnet, {r['space']} {r.get('options', {})} batch {r['batch']} | "
                        f"{r['single_path_overhead_pct']:+.1f} % (target < 10 %) | fair step = "
                        f"{r['fair_vs_M_single']:.2f} x M single steps (target <= 1.10) |")
    elif name == "eval_throughput":
        summary = data.get("summary", {})
        rows.append(f"| frozen-supernet evaluator vs plain subnet forward | overhead {summary.get('overhead_%_cpu')} % CPU "
                    f"time (target <= 10 %) | {summary.get('archs_per_s_evaluator')} archs/s |")
    elif name == "ray_scaling":
        for r in data.get("pool", []):
            rows.append(f"| Ray pool, {r['workers']} worker(s) of 1 thread | {r['archs_per_s']:.1f} archs/s, speedup "
                        f"{r['speedup_vs_1_worker']:.2f} | CPU-normalised efficiency {r['cpu_normalised_efficiency']:.2f} |")
    elif name == "engine_throughput":
        for r in data.get("rows", []):
            same = r.get("identical_scores", r.get("identical_histories"))
            rows.append(f"| scoring engine vs plain evaluator, {r['workload']} | {r['speedup_cpu']:.2f}x CPU time "
                        f"(target >= {r['target']}x) | identical scores: {same} |")
    elif name in RANKING_NBM_RUNS:
        macs = None
        for recipe, rec in data.get("recipes", {}).items():
            ranking = rec.get("ranking", {})
            macs = ranking.get("MACs", macs)
            best = max((p for p in ranking if p.startswith("supernet")),
                       key=lambda p: ranking[p]["kendall_tau"], default=None)
            if best is None:
                continue
            seed = rec.get("settings", {}).get("seed", 0)  # records before per-recipe seeds: seed 0
            again = RANKING_NBM_RUNS[name]
            # each score next to the regret of the search that ranked by it
            pairs = [(best, rec.get("regret") or {})]
            if "supernet -loss (val+train), smoothed" in ranking:
                pairs = [("supernet -loss (val+train), smoothed", rec.get("regret") or {}),
                         ("supernet -loss (val), smoothed", rec.get("regret_validation_only_search") or {})]
            for proxy, regret in pairs:
                reg = " / ".join(f"{regret[b]['regret']:.2f}" for b in ("30M", "45M", "60M") if b in regret)
                top = " / ".join(f"{x:.2f}" for x in ranking[proxy]["tau_in_macs_quintiles"][-2:])
                rows.append(f"| NAS-Bench-Macro ranking (n={ranking[proxy]['n']}), {recipe}, seed {seed}{again}, {proxy} | "
                            f"Kendall tau {ranking[proxy]['kendall_tau']:.3f} (MACs {ranking['MACs']['kendall_tau']:.3f}) "
                            f"| top two MACs quintiles {top}; top-10 % precision "
                            f"{ranking[proxy]['top10pct_precision']:.2f}"
                            + (f"; regret {reg} points at 30/45/60M MACs" if reg else "") + " |")
    elif name in ("ranking_nbm_bias", "ranking_nbm_bias_test"):
        effects = data.get("layer_effects", [])
        truth = next(r for r in effects if r["fit of"].startswith("truth (this sample)"))
        ratios = [r["l5-l7 / l0-l2"] for r in effects if not r["fit of"].startswith("truth")]
        ens = [r for r in data.get("smoothed_ranking", []) if "+" in r["supernet(s)"]]
        best = max(ens, key=lambda r: r["kendall_tau"], default=None)
        scored = ", scored on validation + test" if data.get("score_test") else ""
        rows.append(f"| NAS-Bench-Macro supernet bias (n={data['n']}{scored}): late (l5-l7) / early (l0-l2) layer effects | "
                    f"truth {truth['l5-l7 / l0-l2']:.2f}, {len(ratios)} supernets {min(ratios):.2f}-{max(ratios):.2f} | "
                    + (f"best ensemble ({best['supernet(s)']}) smoothed tau {best['kendall_tau']:.3f}" if best else "")
                    + " |")
    elif name == "allocator_training":
        m = data["median"]
        rows.append(f"| training step CPU time, glibc defaults vs pinned allocator (NAS-Bench-Macro, batch "
                    f"{data['config']['batch_size']}) | {m['default']['cpu_s']:.2f} vs {m['pinned']['cpu_s']:.2f} CPU-s "
                    f"({data['default_over_pinned_cpu']:.2f}x) | page faults/step {m['default']['minor_faults']:,.0f} vs "
                    f"{m['pinned']['minor_faults']:,.0f} |")
    elif name == "ranking_nbm_standalone":
        s = data["summary"]
        rows.append(f"| NAS-Bench-Macro: stand-alone training on the subset, pairs where supernets and truth disagree | "
                    f"sides with the truth in {s['sides_with_truth']} of {s['pairs_done']} | mean stand-alone gap "
                    f"{s['mean_standalone_gap']:+.2f} points (truth {s['mean_truth_gap']:+.2f}) |")
    elif name in ("ranking_nbm_landmarks", "ranking_nbm_landmarks_with_pairs"):
        picked = " (the discordant pairs among them picked with the truth)" if data["config"].get("with_pairs") else ""
        for r in data.get("rows", []):
            rows.append(f"| NAS-Bench-Macro ranking with {r['landmarks']} stand-alone landmarks{picked}, {r['supernet']} | "
                        f"reweighted tau {r['reweighted']:.3f} at strength {r['chosen_strength']:g}; at 1: "
                        f"{r['fixed_strength']['1.0']['tau']:.3f} (smoothed {r['smoothed']:.3f}, MACs {r['macs']:.3f}) | "
                        f"n={r['networks']} non-landmark networks; landmarks alone {r['landmarks_alone']:.3f} |")
    elif name in DEPTH_TREND_RUNS:
        for r in data.get("rows", []):
            search = r.get("search")
            regret = ("; regret 30M/45M/60M " + " / ".join(f"{search['corrected'][b]['regret']:.2f}" for b in ("30M", "45M", "60M"))
                      + " (smoothed " + " / ".join(f"{search['smoothed'][b]['regret']:.2f}" for b in ("30M", "45M", "60M")) + ")"
                      if search else "")
            completed = ((search or {}).get("corrected") or {}).get("completion") or {}
            if completed.get("size"):
                regret += f", front completed with {completed['evaluated']} evaluations"
            rows.append(f"| NAS-Bench-Macro ranking corrected by the depth trend of {r['landmarks']} stand-alone landmarks "
                        f"(pairs proposed by the supernet), {r['supernet']}, {DEPTH_TREND_RUNS[name]} | tau {r['corrected']['kendall_tau']:.3f} "
                        f"(smoothed {r['smoothed']['kendall_tau']:.3f}, MACs {r['macs']['kendall_tau']:.3f}) | beta "
                        f"{r['beta']:.2f} [{r['beta_low']:.2f}, {r['beta_high']:.2f}], n={r['networks']}{regret} |")
    elif name == "ranking_nbm_pick":
        for form in ("additive", "additive + adjacent pairs"):
            picks = [r["regret"] for r in data.get("form_ceiling", []) if r["form"] == form]
            if picks:
                mean = " / ".join(f"{sum(p[b] for p in picks) / len(picks):.2f}" for b in ("30M", "45M", "60M"))
                rows.append(f"| NAS-Bench-Macro: pick regret of a fit to the truth itself ({form}, {len(picks)} samples "
                            f"of {data['config']['sample']}) | mean {mean} at 30M/45M/60M | the ceiling of a fitted "
                            f"ranking's pick; bar 0.5 |")
    elif name == "ranking":
        for r in data.get("rows", []):
            rows.append(f"| ranking: {r['proxy']} (n={r['n']}) | Kendall tau {r['kendall_tau']:.2f} | "
                        f"Spearman {r['spearman_rho']:.2f}, top-5 precision {r['top5_precision']:.2f} |")
    return rows


def _latency_validation_rows() -> list[str]:
    """README rows from the latency validation reports kept in results/latency/ (written by
    `oneshot lut validate`, see docs/latency.md for the commands)."""
    rows = []
    for path in sorted((RESULTS / "latency").glob("*.validate.json")):
        try:
            r = json.loads(path.read_text())
            raw, space = r["raw"], r["space"]
            rows.append(f"| latency table vs {r['n']} measured {space['name']} networks ({path.name}) | median "
                        f"{raw['median_abs_rel_error']:.1%} / P90 {raw['p90_abs_rel_error']:.1%} abs error | "
                        f"target <= 5 % / <= 10 %; Spearman {r['spearman']:.3f} |")
        except (OSError, KeyError, TypeError, json.JSONDecodeError):
            rows.append(f"| {path.name} | unreadable | |")
    return rows


def write_readme_results() -> None:
    """Rewrite the README's results block (between the markers) from the result files."""
    if not README.exists():
        return
    text = README.read_text()
    if README_START not in text or README_END not in text:
        return
    lines = [README_START, "", "| benchmark | measured | context |", "|---|---|---|"]
    for path in sorted(RESULTS.glob("*.json")):
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError:
            continue
        try:
            lines += _headlines(path.stem, data)
        except (KeyError, TypeError):
            lines.append(f"| {path.stem} | see benchmarks/RESULTS.md | |")
    lines += _latency_validation_rows()
    lines += ["", "Generated from `benchmarks/results/*.json` by `make bench` (`benchmarks/run_all.py`); "
              "machine details and every column are in [benchmarks/RESULTS.md](benchmarks/RESULTS.md).", "",
              README_END]
    head, rest = text.split(README_START, 1)
    tail = rest.split(README_END, 1)[1]
    atomic_write_text(README, head + "\n".join(lines) + tail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", metavar="NAME", help="run only these benchmarks (script stems)")
    parser.add_argument("--report-only", action="store_true", help="do not run anything; rewrite RESULTS.md")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds allowed per script (default 3600)")
    args = parser.parse_args(argv)
    outcomes = None if args.report_only else run_scripts(args.only, args.timeout)
    print(f"wrote {write_report(outcomes)}")
    write_readme_results()
    return 0 if not outcomes or all(o["returncode"] == 0 for o in outcomes) else 1


if __name__ == "__main__":
    sys.exit(main())

"""``knowledge-dynamics report DIR...``: the README tables from run folders.

Injection runs (``inject``, ``run``, and the ``<condition>/seed<k>`` runs inside an
``experiments`` folder) are grouped by condition (the experiment's condition name, else the
run folder's name); cells are mean ± std over the runs of a group (the seeds). Pretraining
runs get a table of their own, and a verdict table checks the paper's findings on the numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

from knowledge_dynamics.config import CONDITIONS
from knowledge_dynamics.data.knowledge import PROBE_TYPES
from labcore.errors import DataError
from labcore.report import format_mean_std, markdown_table, mean_std
from labcore.rundir import RunDir, find_runs

PACKAGE = "knowledge_dynamics"
SCENARIOS = ("paraphrase", "duplicate", "once")
METRIC_KEYS = ("effectivity", "decay_constant", "r2", "learnability_threshold")
#: present when the runs have a sham control
SHAM_KEYS = ("effectivity_item_specific", "effectivity_sham")


def _stats(values: Sequence) -> dict:
    xs = [float(v) for v in values if v is not None and math.isfinite(v)]
    if not xs:
        return {"mean": None, "std": None, "n": 0, "values": []}
    mean, std = mean_std(xs)
    return {"mean": mean, "std": std, "n": len(xs), "values": xs}


def label_of(run: RunDir) -> str:
    return run.config().get("condition") or run.path.name


def summarize(runs: Sequence[RunDir]) -> dict:
    """condition -> metric -> scenario -> probe type -> stats (mean, std, n, values)."""
    groups: dict[str, list[dict]] = {}
    for run in runs:
        m = run.load_metrics()
        if "effectivity" in m:
            groups.setdefault(label_of(run), []).append(m)
    known = list(CONDITIONS)
    order = sorted(groups, key=lambda n: (known.index(n) if n in known else len(known), n))
    summary: dict = {}
    for name in order:
        metrics = groups[name]
        cond: dict = {
            key: {
                s: {
                    pt: _stats([m.get(key, {}).get(s, {}).get(pt) for m in metrics])
                    for pt in PROBE_TYPES
                }
                for s in SCENARIOS
            }
            for key in METRIC_KEYS + SHAM_KEYS
        }
        for key in ("step_noise", "control_effectivity_std"):
            cond[key] = {
                pt: _stats([m.get(key, {}).get(pt) for m in metrics]) for pt in PROBE_TYPES
            }
        control = [m.get("control_effectivity", {}) for m in metrics]
        cond["control_effectivity"] = {
            pt: _stats([c.get(pt) for c in control]) for pt in PROBE_TYPES
        }
        cond["excess_over_control"] = {
            sc: {
                pt: _stats(
                    [
                        m["effectivity"].get(sc, {}).get(pt) - c[pt]
                        if m["effectivity"].get(sc, {}).get(pt) is not None
                        and c.get(pt) is not None
                        else None
                        for m, c in zip(metrics, control, strict=True)
                    ]
                )
                for pt in PROBE_TYPES
            }
            for sc in SCENARIOS
        }
        cond["seeds"] = len(metrics)
        summary[name] = cond
    return summary


def _fmt(st: dict) -> str:
    return format_mean_std(st["values"]) if st["values"] else "n/a"


def markdown(summary: dict) -> str:
    """The effectivity, control, excess, decay, R² and x-intercept tables."""
    lines = []
    sham = any(cond["effectivity_item_specific"][s][pt]["n"] for cond in summary.values()
               for s in SCENARIOS for pt in PROBE_TYPES)  # fmt: skip
    for key, title in [
        ("effectivity", "Effectivity (mean target log-prob gain per encounter)"),
        *(
            [
                ("effectivity_item_specific", "Item-specific effectivity (gain minus sham gain)"),
                ("effectivity_sham", "Sham gain (another set's passages injected, same probes)"),
            ]
            if sham
            else []
        ),
        ("decay_constant", "Decay constant a (R lost per decade of steps)"),
        ("r2", "R² of the fit of R against log10 t"),
        ("learnability_threshold", "x-intercept (log10 steps after the LAM)"),
    ]:
        rows = [
            {"condition": f"{name} (n={cond['seeds']})", "scenario": s}
            | {pt: _fmt(cond[key][s][pt]) for pt in PROBE_TYPES}
            for name, cond in summary.items()
            for s in SCENARIOS
        ]
        lines += [f"### {title}", "", markdown_table(rows), ""]
        if key == "effectivity":
            rows = [
                {"condition": name}
                | {pt: _fmt(cond["control_effectivity"][pt]) for pt in PROBE_TYPES}
                for name, cond in summary.items()
            ]
            lines += [
                "Control (once items in the windows after the other injection steps, where "
                "they are not injected):",
                "",
                markdown_table(rows),
                "",
                "Effectivity minus control (per seed, then mean ± std):",
                "",
            ]
            rows = [
                {"condition": name, "scenario": sc}
                | {pt: _fmt(cond["excess_over_control"][sc][pt]) for pt in PROBE_TYPES}
                for name, cond in summary.items()
                for sc in SCENARIOS
            ]
            lines += [markdown_table(rows), ""]
    rows = [
        {"condition": name, "noise": what} | {pt: _fmt(cond[key][pt]) for pt in PROBE_TYPES}
        for name, cond in summary.items()
        for key, what in (
            ("step_noise", "one probe's step-to-step std (plain steps)"),
            ("control_effectivity_std", "std of the control's encounters"),
        )
    ]
    lines += ["### Noise", "", markdown_table(rows), ""]
    return "\n".join(lines)


def _m(summary: dict, cond: str, key: str, sc: str, pt: str) -> float | None:
    return summary[cond][key][sc][pt]["mean"]


def _yes(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "no")


def verdicts(summary: dict) -> str:
    """The paper's findings checked on the numbers (conditions absent from the runs are skipped)."""
    if not summary:
        return "(no finished injection runs)"
    ref = "mid" if "mid" in summary else next(iter(summary))
    rows = []
    ex = [
        summary[ref]["excess_over_control"][sc]["memorization"]
        for sc in ("paraphrase", "duplicate")
    ]
    # one seed has no std over seeds: the finding cannot be checked (n/a), not "yes"
    ok = (
        None
        if any(e["mean"] is None or e["n"] < 2 for e in ex)
        else all(e["mean"] > 0 and e["mean"] > e["std"] for e in ex)
    )
    rows.append({"finding": "each exposure gives a jump above the control, by more than its std "
                 "over seeds (memorization, paraphrase / duplicate)",
                 "condition": ref, "measured": " / ".join(_fmt(e) for e in ex), "holds": _yes(ok)})  # fmt: skip
    order = []
    for sc in ("paraphrase", "duplicate"):
        vals = [_m(summary, ref, "effectivity", sc, pt) for pt in PROBE_TYPES]
        order.append(None if None in vals else vals[0] > vals[1] > vals[2])
        rows.append({"finding": f"effectivity memorization > semantic > composition ({sc})",
                     "condition": ref, "measured": " / ".join(_num(v) for v in vals),
                     "holds": _yes(order[-1])})  # fmt: skip
    r2 = [
        _m(summary, ref, "r2", sc, pt)
        for sc in ("paraphrase", "duplicate")
        for pt in PROBE_TYPES[:2]
    ]
    ok = None if None in r2 else min(r2) >= 0.8
    rows.append({"finding": "forgetting linear in log t: R² ≥ 0.8 (memorization, semantic)",
                 "condition": ref, "measured": "min " + _num(None if None in r2 else min(r2)),
                 "holds": _yes(ok)})  # fmt: skip
    for pt in PROBE_TYPES[:2]:
        d, p = (_m(summary, ref, "decay_constant", sc, pt) for sc in ("duplicate", "paraphrase"))
        ok = None if None in (d, p) else d > p
        rows.append({"finding": f"decay constant duplicate > paraphrase ({pt})", "condition": ref,
                     "measured": f"{_num(d)} vs {_num(p)}", "holds": _yes(ok)})  # fmt: skip
    if {"early", "mid", "late"} <= set(summary):
        v = [
            _m(summary, c, "effectivity", "duplicate", "memorization")
            for c in ("early", "mid", "late")
        ]
        ok = None if None in v else v[2] <= v[0] and v[1] <= v[0] * 1.05
        rows.append({"finding": "more pretraining does not raise effectivity (memorization, duplicate)",
                     "condition": "early / mid / late", "measured": " / ".join(_num(x) for x in v),
                     "holds": _yes(ok)})  # fmt: skip
    ex = summary[ref]["effectivity_item_specific"]
    noise = summary[ref]["step_noise"]["memorization"]["mean"]
    for sc in SCENARIOS:
        e = ex[sc]["memorization"]["mean"]
        ok = None if e is None or noise is None else e >= 5 * noise
        rows.append({"finding": f"item-specific memorization effectivity ≥ 5 × step noise ({sc})",
                     "condition": ref, "measured": f"{_num(e)} vs 5 × {_num(noise)}",
                     "holds": _yes(ok)})  # fmt: skip
    if {"batch_small", "mid"} <= set(summary):
        for key, what in (
            ("decay_constant", "faster forgetting"),
            ("effectivity", "higher effectivity"),
        ):
            s, b = (
                _m(summary, c, key, "duplicate", "memorization") for c in ("batch_small", "mid")
            )
            ok = None if None in (s, b) else s > b
            rows.append({"finding": f"small batch: {what} (memorization, duplicate)",
                         "condition": "batch_small vs mid", "measured": f"{_num(s)} vs {_num(b)}",
                         "holds": _yes(ok)})  # fmt: skip
    if {"size_large", "mid"} <= set(summary):
        s, b = (
            _m(summary, c, "excess_over_control", "duplicate", "memorization")
            for c in ("size_large", "mid")
        )
        ok = None if None in (s, b) else s > b
        rows.append({"finding": "larger model: higher effectivity above control (memorization, duplicate)",
                     "condition": "size_large vs mid", "measured": f"{_num(s)} vs {_num(b)}",
                     "holds": _yes(ok)})  # fmt: skip
    return markdown_table(rows)


def _num(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.3f}"


def pretrain_table(runs: Sequence[RunDir]) -> str:
    rows = []
    for run in runs:
        m = run.load_metrics()
        cfg = run.config()
        rows.append(
            {
                "pretraining run": str(run.path),
                "parameters": m.get("parameters"),
                "steps": cfg.get("pretrain", {}).get("steps"),
                "final loss (mean of last 50 steps)": m.get("final_loss_mean_last50"),
                "seconds": None if m.get("seconds") is None else round(m["seconds"], 1),
            }
        )
    return markdown_table(rows)


def report(dirs: Sequence[str | Path]) -> str:
    """All tables for the run folders at or below ``dirs``."""
    runs = find_runs(list(dirs), PACKAGE)
    done = [r for r in runs if r.finished]
    if not done:
        raise DataError(f"{', '.join(map(str, dirs))}: no finished {PACKAGE} run yet")
    parts = []
    pre = [r for r in done if r.info().get("command") == "pretrain"]
    if pre:
        parts += ["### Pretraining", "", pretrain_table(pre), ""]
    summary = summarize([r for r in done if r.info().get("command") in ("inject", "run")])
    if summary:
        parts += [markdown(summary), "### Verdicts", "", verdicts(summary), ""]
    unfinished = [str(r.path) for r in runs if not r.finished]
    if unfinished:
        parts.append(f"(not finished, left out: {', '.join(unfinished)})")
    return "\n".join(parts)

"""``knowledge-dynamics experiments``: the README experiment set on the ``tiny`` model.

Conditions (each over ``--seeds`` knowledge sets; the pretrained model and the background
stream are shared, as in the paper where the data stream is identical for every condition):

* ``early`` / ``mid`` / ``late``: stage comparison at the default batch (``mid`` also gives
  the probe-type and scenario comparisons);
* ``batch_large`` / ``batch_small``: 16 rows vs 1 row from the mid checkpoint; the small
  batch re-initialises AdamW as in the paper's batch-size experiment;
* ``lr_low``: an extension the paper did not run, the mid checkpoint at 1/4 of its LR;
* ``size_large`` (only with ``--only``): a 4x wider, 2x deeper model pretrained the same way,
  mid checkpoint (the paper's 1B-vs-7B comparison, at toy scale).
"""

from __future__ import annotations

import json
import math
import shutil
import time
from pathlib import Path

import numpy as np

from knowledge_dynamics.analyze import METRIC_KEYS, analyze
from knowledge_dynamics.config import Config
from knowledge_dynamics.data.knowledge import PROBE_TYPES
from knowledge_dynamics.injection import SCENARIOS
from knowledge_dynamics.plots import COLORS, save
from knowledge_dynamics.pretrain import pretrain
from knowledge_dynamics.runner import run_inject
from labcore.errors import DataError
from labcore.io import read_json, write_json, write_text_atomic

#: name -> (stage, config overrides)
CONDITIONS: dict[str, tuple[str, dict]] = {
    "early": ("early", {}),
    "mid": ("mid", {}),
    "late": ("late", {}),
    "batch_large": ("mid", {"inject.batch_size": 16}),
    "batch_small": ("mid", {"inject.batch_size": 1, "inject.reset_optimizer": True}),
    "lr_low": ("mid", {"inject.lr_scale": 0.25}),
    "size_large": ("mid", {"model.d_model": 128, "model.n_layers": 4, "model.ffn": 344}),
}
#: conditions run by default (the others need ``--only``)
DEFAULT_SET = ["early", "mid", "late", "batch_large", "batch_small", "lr_low"]


def run_experiments(
    cfg: Config,
    out: Path,
    seeds: int = 3,
    only: str | None = None,
    progress: bool = True,
    reanalyze: bool = False,
) -> dict:
    """Run every condition x seed (skipping finished runs), then aggregate and plot."""
    names = DEFAULT_SET if not only else [n.strip() for n in only.split(",")]
    unknown = [n for n in names if n not in CONDITIONS]
    if unknown:
        raise DataError(f"--only: unknown condition(s) {unknown}; known: {', '.join(CONDITIONS)}")
    if seeds < 1:
        raise DataError(f"--seeds must be at least 1 (got {seeds})")
    t0 = time.perf_counter()
    timings: dict = {}
    pretrained: dict[str, dict] = {}

    def stages_for(changes: dict) -> dict:
        """Stage folders of the model these changes describe (pretrained once per model)."""
        model_changes = {k: v for k, v in changes.items() if k.startswith("model.")}
        tag = "pretrain" + "".join(f"-{k[6:]}{v}" for k, v in sorted(model_changes.items()))
        if tag not in pretrained:
            t1 = time.perf_counter()
            pretrained[tag] = pretrain(cfg.replace(**model_changes), out / tag, progress=progress)
            timings[f"{tag}_s"] = time.perf_counter() - t1
        return pretrained[tag]

    # Seeds outer, conditions inner: if time runs out, every condition has the same seeds.
    for seed in range(seeds):
        for name in names:
            stage, changes = CONDITIONS[name]
            run = out / name / f"seed{seed}"
            if (run / "metrics.json").is_file():
                if reanalyze:
                    analyze(run, cfg.analysis)
                continue
            c = cfg.replace(**changes, **{"synth.seed": seed, "inject.seed": seed})
            t1 = time.perf_counter()
            run_inject(c, str(stages_for(changes)[stage]), run, progress=progress)
            analyze(run, c.analysis)
            timings[f"{name}/seed{seed}_s"] = time.perf_counter() - t1
            print(f"{name} seed {seed}: {time.perf_counter() - t1:.0f}s", flush=True)
            summarize(out, seeds)
    if timings:  # something ran: record this invocation's wall time next to the per-run times
        timings[f"invocation_{'-'.join(names)}_total_s"] = time.perf_counter() - t0
        old = read_json(out / "timings.json") if (out / "timings.json").is_file() else {}
        write_json(out / "timings.json", {**old, **timings})
    return summarize(out, seeds)


def _stats(values: list) -> dict:
    xs = np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if not xs.size:
        return {"mean": None, "std": None, "n": 0}
    return {
        "mean": float(xs.mean()),
        "std": float(xs.std(ddof=1)) if xs.size > 1 else 0.0,
        "n": int(xs.size),
    }


def summarize(out: Path, seeds: int) -> dict:
    """summary.json (condition -> metric -> scenario -> probe type -> mean/std/n), results.md, plots."""
    summary: dict = {}
    for name in CONDITIONS:
        runs = [out / name / f"seed{s}" / "metrics.json" for s in range(seeds)]
        metrics = [read_json(p) for p in runs if p.is_file()]
        if not metrics:
            continue
        summary[name] = {
            key: {
                s: {pt: _stats([m[key][s][pt] for m in metrics]) for pt in PROBE_TYPES}
                for s in SCENARIOS
            }
            for key in METRIC_KEYS
        }
        summary[name]["control_effectivity"] = {
            pt: _stats([m.get("control_effectivity", {}).get(pt) for m in metrics])
            for pt in PROBE_TYPES
        }
        summary[name]["excess_over_control"] = {
            sc: {
                pt: _stats(
                    [
                        m["effectivity"][sc][pt] - m["control_effectivity"][pt]
                        if m["effectivity"][sc][pt] is not None
                        and m.get("control_effectivity", {}).get(pt) is not None
                        else None
                        for m in metrics
                    ]
                )
                for pt in PROBE_TYPES
            }
            for sc in SCENARIOS
        }
        summary[name]["seeds"] = len(metrics)
    write_json(out / "summary.json", summary)
    write_text_atomic(out / "results.md", markdown(summary))
    _plots(out, summary)
    mid = out / "mid" / "seed0" / "plots"
    if mid.is_dir():
        for png in mid.glob("*.png"):
            shutil.copy(png, out / f"mid_seed0_{png.name}")
    return summary


def _fmt(st: dict, digits: int = 3) -> str:
    if st["mean"] is None:
        return "n/a"
    return f"{st['mean']:.{digits}f} ± {st['std']:.{digits}f}"


def markdown(summary: dict) -> str:
    lines = []
    for key, title in [
        ("effectivity", "Effectivity (mean target log-prob gain per encounter)"),
        ("decay_constant", "Decay constant a (R lost per decade of steps)"),
        ("r2", "R² of the fit of R against log10 t"),
        ("learnability_threshold", "x-intercept (log10 steps after the LAM)"),
    ]:
        lines.append(f"### {title}\n")
        lines.append("| condition | scenario | memorization | semantic | composition |")
        lines.append("|---|---|---|---|---|")
        for name, cond in summary.items():
            for s in SCENARIOS:
                cells = " | ".join(_fmt(cond[key][s][pt]) for pt in PROBE_TYPES)
                lines.append(f"| {name} (n={cond['seeds']}) | {s} | {cells} |")
        if key == "effectivity":
            lines.append(
                "\nControl (once items in the windows after the other injection steps, where "
                "they are not injected):\n"
            )
            lines.append("| condition | memorization | semantic | composition |")
            lines.append("|---|---|---|---|")
            for name, cond in summary.items():
                cells = " | ".join(_fmt(cond["control_effectivity"][pt]) for pt in PROBE_TYPES)
                lines.append(f"| {name} | {cells} |")
            lines.append("\nEffectivity minus control (per seed, then mean ± std):\n")
            lines.append("| condition | scenario | memorization | semantic | composition |")
            lines.append("|---|---|---|---|---|")
            for name, cond in summary.items():
                for sc in SCENARIOS:
                    ex = cond["excess_over_control"][sc]
                    cells = " | ".join(_fmt(ex[pt]) for pt in PROBE_TYPES)
                    lines.append(f"| {name} | {sc} | {cells} |")
        lines.append("")
    return "\n".join(lines)


def _plots(out: Path, summary: dict) -> None:
    from matplotlib.figure import Figure

    groups = {
        "stage": ["early", "mid", "late"],
        "batch": ["batch_large", "batch_small"],
        "lr": ["mid", "lr_low"],
        "size": ["mid", "size_large"],
    }
    for gname, conds in groups.items():
        conds = [c for c in conds if c in summary]
        if not conds:
            continue
        for key in ("effectivity", "decay_constant"):
            fig = Figure(figsize=(12, 3.4))
            for a, s in enumerate(SCENARIOS):
                ax = fig.add_subplot(1, 3, a + 1)
                w = 0.8 / len(PROBE_TYPES)
                for k, pt in enumerate(PROBE_TYPES):
                    st = [summary[c][key][s][pt] for c in conds]
                    ax.bar(
                        np.arange(len(conds)) + (k - 1) * w,
                        [x["mean"] or 0 for x in st],
                        w,
                        yerr=[x["std"] or 0 for x in st],
                        capsize=2,
                        label=pt,
                        color=COLORS[pt],
                    )
                ax.set_xticks(np.arange(len(conds)), conds)
                ax.set(title=s, ylabel=key)
                ax.grid(axis="y", alpha=0.3)
            ax.legend(fontsize=7)
            save(fig, out / f"{key}_by_{gname}.png")


def load_summary(out: Path) -> dict:
    return json.loads((out / "summary.json").read_text())

"""``knowledge-dynamics experiments``: the README experiment set on the ``tiny`` model
(or SmolLM2, ``model.preset=smollm2``, whose pretraining continues on the background).

Conditions (each over ``--seeds`` knowledge sets; the pretrained model and the background
stream are shared, as in the paper where the data stream is identical for every condition):

* ``early`` / ``mid`` / ``late``: stage comparison at the default batch (``mid`` also gives
  the probe-type and scenario comparisons);
* ``batch_small``: the mid checkpoint at 1/16 of the batch (paper: 2048 -> 128 rows), compared
  with ``mid``; it re-initialises AdamW as in the paper's batch-size experiment (moments
  warmed up at LR 0 first, ``inject.moment_warmup``);
* ``lr_low``: an extension the paper did not run, the mid checkpoint at 1/4 of its LR;
* ``size_large`` (only with ``--only``): a 4x wider, 2x deeper model pretrained the same way,
  mid checkpoint (the paper's 1B-vs-7B comparison, at toy scale).

The experiments folder is a run folder; inside it every pretrained model is a ``pretrain``
run (``pretrain``, ``pretrain-<model changes>``) and every condition x seed an ``inject``
run (``<condition>/seed<k>``, with its sham control in ``<condition>/seed<k>/sham``), each
skipped when finished and resumed when interrupted.
"""

from __future__ import annotations

import shutil
import time

import numpy as np

from knowledge_dynamics.config import ExperimentsJob, condition_changes
from knowledge_dynamics.data.knowledge import PROBE_TYPES
from knowledge_dynamics.eval.plots import COLORS, save
from knowledge_dynamics.report import markdown, summarize
from knowledge_dynamics.train.injection import SCENARIOS
from knowledge_dynamics.train.pretrain import pretrain, pretrain_config
from knowledge_dynamics.train.runner import (
    finish_inject,
    inject_config,
    open_run,
    run_control,
    run_inject,
)
from labcore.io import write_json, write_text_atomic
from labcore.rundir import RunDir


def run_experiments(job: ExperimentsJob, top: RunDir, device: str = "cpu") -> dict:
    """Run every condition x seed (skipping finished runs), then aggregate and plot."""
    cfg = job.base()
    names = job.conditions()
    out = top.path
    timings: dict = {}
    pretrained: dict[str, dict] = {}

    def stages_for(changes: dict) -> tuple[str, dict]:
        """Stage folders of the model these changes describe (pretrained once per model)."""
        model_changes = {k: v for k, v in changes.items() if k.startswith("model.")}
        tag = "pretrain" + "".join(f"-{k[6:]}{v}" for k, v in sorted(model_changes.items()))
        if tag not in pretrained:
            t1 = time.perf_counter()
            c = cfg.replace(**model_changes)
            sub = open_run(out / tag, "pretrain", pretrain_config(c), device)
            pretrained[tag] = pretrain(c, sub, device)
            timings[f"{tag}_s"] = time.perf_counter() - t1
        return tag, pretrained[tag]

    # Seeds outer, conditions inner: if time runs out, every condition has the same seeds.
    for seed in range(job.seeds):
        for name in names:
            stage, changes = condition_changes(name, cfg)
            c = cfg.replace(**changes, seed=seed)
            tag, stages = stages_for(changes)
            label = f"{tag}/{stage}"  # relative to the experiments folder
            sub = open_run(
                out / name / f"seed{seed}",
                "inject",
                inject_config(c, label, None, condition=name),
                device,
            )
            if sub.finished:
                continue
            t1 = time.perf_counter()
            run_inject(c, str(stages[stage]), sub, device=device)
            run_control(c, str(stages[stage]), sub, device=device, label=label)
            finish_inject(sub, c)
            timings[f"{name}/seed{seed}_s"] = time.perf_counter() - t1
            top.print(f"{name} seed {seed}: {time.perf_counter() - t1:.0f}s")
    summary = summarize_folder(top)
    top.update_metrics(timings_s=timings)
    return summary


def condition_runs(top: RunDir) -> list[RunDir]:
    from labcore.rundir import find_runs

    runs = find_runs([top.path], "knowledge_dynamics")
    return [r for r in runs if r.info().get("command") == "inject" and r.finished]


def summarize_folder(top: RunDir) -> dict:
    """summary.json, results.md and the grouped plots of an experiments folder."""
    out = top.path
    summary = summarize(condition_runs(top))
    write_json(out / "summary.json", summary)
    write_text_atomic(out / "results.md", markdown(summary))
    _plots(top, summary)
    mid = out / "mid" / "seed0" / "plots"
    if mid.is_dir():
        for png in mid.glob("*.png"):
            shutil.copy(png, top.plots / f"mid_seed0_{png.name}")
    return summary


def _plots(top: RunDir, summary: dict) -> None:
    from matplotlib.figure import Figure

    groups = {
        "stage": ["early", "mid", "late"],
        "batch": ["mid", "batch_small"],
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
            save(fig, top.plots / f"{key}_by_{gname}.png")

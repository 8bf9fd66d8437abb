"""``s4d-fer report DIR...``: the README tables from run folders.

One row per pipeline run (video and image test WAR / UAR), then, where a configuration
was run with several seeds (``s4d-fer ablation``), its mean ± std over seeds with a 95%
interval. Nothing here imports torch.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from labcore.report import format_mean_std, markdown_table
from labcore.rundir import RunDir, find_runs

PACKAGE = "s4d_fer"

#: (pre-training modalities, fine-tuning tasks, with MoAE) -> ablation row name
ROWS = {
    ("none", "video", False): "video-only scratch",
    ("video", "video", False): "video MAE -> video FT",
    ("both", "video", False): "dual MAE -> video FT",
    ("both", "both", False): "dual MAE -> multi-task, no MoAE",
    ("both", "both", True): "dual MAE -> multi-task + MoAE (S4D)",
}


def row_name(config: dict) -> str:
    modalities = config.get("pretrain", {}).get("modalities", "?")
    tasks = config.get("finetune", {}).get("tasks", "?")
    moae = bool(config.get("model", {}).get("moe_experts", 0))
    return ROWS.get(
        (modalities, tasks, moae), f"{modalities} MAE -> {tasks} FT{' + MoAE' if moae else ''}"
    )


def _pct(value) -> str | None:
    return None if value is None else f"{100 * value:.2f}"


def pipeline_runs(paths: list[str | Path]) -> list[RunDir]:
    """Finished pipeline runs (``train`` command, with test metrics) at or below ``paths``."""
    runs = find_runs(paths, PACKAGE)
    return [
        r
        for r in runs
        if r.info().get("command") == "train" and r.finished and "war" in r.load_metrics()
    ]


def runs_table(runs: list[RunDir], root: Path | None = None) -> str:
    rows = []
    for r in runs:
        m, c = r.load_metrics(), r.config()
        image = m.get("image") or {}
        name = str(r.path)
        if root is not None and r.path != root and r.path.is_relative_to(root):
            name = str(r.path.relative_to(root))
        rows.append(
            {
                "run": name,
                "configuration": row_name(c),
                "seed": c.get("seed"),
                "video WAR (%)": _pct(m.get("war")),
                "video UAR (%)": _pct(m.get("uar")),
                "image WAR (%)": _pct(image.get("war")),
                "image UAR (%)": _pct(image.get("uar")),
                "clips": m.get("n_test"),
                "min": f"{m['seconds'] / 60:.1f}" if m.get("seconds") else None,
            }
        )
    return markdown_table(rows)


#: Settings that do not change what is measured: runs differing only here are pooled.
NOT_CONFIGURATION = {"seed", "threads", "device", "progress_bar", "checkpoint_every_n_steps"}


def _flat(config: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def group_labels(configs: list[dict]) -> list[str]:
    """The ablation row name of each config, plus the settings that tell apart configs
    sharing a row name (seeds aside), e.g. ``... (S4D) [pretrain.epochs=30]``."""
    from s4d_fer.config import RunConfig, as_dict

    # Settings a run's config.json predates count as their defaults.
    defaults = _flat(as_dict(RunConfig()))
    flats = [
        {k: v for k, v in {**defaults, **_flat(c)}.items() if k not in NOT_CONFIGURATION}
        for c in configs
    ]
    names = [row_name(c) for c in configs]
    labels = []
    for name, flat in zip(names, flats, strict=True):
        peers = [f for n, f in zip(names, flats, strict=True) if n == name]
        keys = sorted({k for f in peers for k in f.keys() | flat.keys() if f.get(k) != flat.get(k)})
        labels.append(
            name + (f" [{', '.join(f'{k}={flat.get(k)}' for k in keys)}]" if keys else "")
        )
    return labels


def seeds_table(runs: list[RunDir]) -> str | None:
    """Mean ± std [95% interval] over seeds per configuration; ``None`` without repeats.

    Runs are pooled only when their whole configuration but the seed is the same.
    """
    groups: dict[str, list[dict]] = defaultdict(list)
    labels = group_labels([r.config() for r in runs])
    for label, r in zip(labels, runs, strict=True):
        groups[label].append(r.load_metrics())
    if all(len(v) < 2 for v in groups.values()):
        return None
    rank = {n: i for i, n in enumerate(ROWS.values())}
    order = sorted(groups, key=lambda g: (rank.get(g.split(" [")[0], len(rank)), g))
    rows = []
    for name in order:
        ms = groups[name]
        cell = {}
        for label, values in (
            ("video WAR (%)", [100 * m["war"] for m in ms]),
            ("video UAR (%)", [100 * m["uar"] for m in ms]),
            ("image WAR (%)", [100 * m["image"]["war"] for m in ms if m.get("image")]),
        ):
            cell[label] = format_mean_std(values, digits=1, interval=True) if values else ""
        rows.append({"configuration": name, "seeds": len(ms), **cell})
    return markdown_table(rows)


def report(paths: list[str | Path]) -> str:
    """The markdown the README shows for the run folders at or below ``paths``."""
    runs = pipeline_runs(paths)
    if not runs:
        return "(no finished s4d_fer pipeline runs)"
    root = Path(paths[0]) if len(paths) == 1 else None
    parts = [runs_table(runs, root)]
    seeds = seeds_table(runs)
    if seeds:
        parts += ["", "Mean ± std over seeds [95% interval]:", "", seeds]
    return "\n".join(parts)

"""``searcher report DIR...``: the README's results table from `train` and `eval` run folders.

One row per model (base / cold-start SFT / SFT + GRPO for `train` runs, the evaluated model for
`eval` runs). Runs that differ only in their seed are pooled: each cell is then the mean ± std
over the seeds.
"""

from __future__ import annotations

from collections import defaultdict

from labcore.report import format_mean_std, markdown_table

LABELS = {"base": "base", "sft": "SFT", "grpo": "SFT+GRPO"}
#: (column, summary key) of the results table.
COLUMNS = (
    ("closed EM", "closed_em"),
    ("closed F1", "closed_f1"),
    ("open findings F1", "open_findings_f1"),
    ("open reward", "open_reward"),
    ("mean reward", "mean_reward"),
    ("answered", "answered"),
    ("searches / q", "mean_searches"),
)


def _rows_of(run) -> list[tuple[tuple, str, dict]]:
    """``(group key, model label, summary)`` for every evaluated model of a run."""
    info, config, metrics = run.info(), run.config(), run.load_metrics()
    setting = {k: v for k, v in config.items() if k not in ("seed", "device", "threads")}
    name = config.get("preset") or info.get("command")
    key = (info.get("command"), name, repr(sorted(setting.items())))
    if info.get("command") == "train":
        return [
            (key, LABELS[m], metrics[m])
            for m in ("base", "sft", "grpo")
            if isinstance(metrics.get(m), dict)
        ]
    if info.get("command") == "eval" and "n" in metrics:
        return [(key, str(config.get("model")), metrics)]
    return []


def results_table(runs) -> str:
    """The markdown table: one row per (setting, model), cells mean ± std over seeds."""
    groups: dict[tuple, dict] = defaultdict(lambda: {"summaries": [], "seeds": set()})
    order: list[tuple] = []
    for run in runs:
        seed = run.config().get("seed")
        for key, label, summary in _rows_of(run):
            slot = (key, label)
            if slot not in groups:
                order.append(slot)
            groups[slot]["summaries"].append(summary)
            groups[slot]["seeds"].add(seed)
    rows = []
    for key, label in order:
        summaries = groups[(key, label)]["summaries"]
        row = {"run": key[1], "model": label, "seeds": len(summaries)}
        first = summaries[0]
        row["questions (closed + open)"] = f"{first.get('n_closed', 0)} + {first.get('n_open', 0)}"
        for column, k in COLUMNS:
            values = [s[k] for s in summaries if s.get(k) is not None]
            row[column] = format_mean_std(values) if values else ""
        rows.append(row)
    columns = ["run", "model", "seeds", "questions (closed + open)"] + [c for c, _ in COLUMNS]
    return markdown_table(rows, columns)


def report(dirs) -> str:
    """Everything `searcher report` prints, for the run folders at or below ``dirs``."""
    from labcore.rundir import find_runs

    return results_table(find_runs(dirs, "searcher"))

"""``searcher report DIR...``: the README's results table from `train` and `eval` run folders.

One row per model (base / cold-start SFT / SFT + GRPO for `train` runs, the evaluated model for
`eval` runs). Runs that differ only in their seed are pooled: each cell is then the mean ± std
over the seeds. The sampled reward of a single run shows its 95% interval over questions.

A second table compares SFT+GRPO with SFT in each `train` run, paired over the test
questions (the same questions, in the same order): the mean per-question difference of the
sampled reward, the greedy reward and the greedy closed exact match, each with a 95% interval.
"""

from __future__ import annotations

from collections import defaultdict

from labcore.report import ci95, format_mean_std, markdown_table

LABELS = {"base": "base", "sft": "SFT", "grpo": "SFT+GRPO"}
#: (column, summary key) of the results table.
COLUMNS = (
    ("closed EM", "closed_em"),
    ("closed F1", "closed_f1"),
    ("open findings F1", "open_findings_f1"),
    ("open reward", "open_reward"),
    ("mean reward", "mean_reward"),
    ("sampled reward", "sampled_reward"),
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
        if len(summaries) == 1 and first.get("sampled_reward_ci95"):
            lo, hi = first["sampled_reward_ci95"]
            row["sampled reward"] += f" [{lo:.3f}, {hi:.3f}] (×{first['samples']})"
        rows.append(row)
    columns = ["run", "model", "seeds", "questions (closed + open)"] + [c for c, _ in COLUMNS]
    return markdown_table(rows, columns)


def _interval(diffs: list[float]) -> str:
    lo, hi = ci95(diffs)
    mean = sum(diffs) / len(diffs)
    return f"{mean:+.3f} [{lo:+.3f}, {hi:+.3f}]"


def paired_table(runs) -> str | None:
    """SFT+GRPO − SFT per `train` run, paired over test questions; None without such runs."""
    from labcore.io import read_jsonl

    rows = []
    for run in runs:
        if run.info().get("command") != "train":
            continue
        files = [run.path / "eval" / m / "traces.jsonl" for m in ("sft", "grpo")]
        if not all(f.is_file() for f in files):
            continue
        # Both models saw the same questions in the same order; ids key them when present.
        sft, grpo = (
            {t.get("id") if t.get("id") is not None else n: t for n, t in enumerate(read_jsonl(f))}
            for f in files
        )
        ids = [i for i in sft if i in grpo]
        if not ids:
            continue
        row = {"run": run.path.name, "seed": run.config().get("seed"), "questions": len(ids)}
        if all(sft[i].get("sampled_rewards") and grpo[i].get("sampled_rewards") for i in ids):
            mean = lambda xs: sum(xs) / len(xs)
            row["Δ sampled reward"] = _interval(
                [mean(grpo[i]["sampled_rewards"]) - mean(sft[i]["sampled_rewards"]) for i in ids]
            )
        row["Δ greedy reward"] = _interval([grpo[i]["reward"] - sft[i]["reward"] for i in ids])
        closed = [i for i in ids if "em" in sft[i] and "em" in grpo[i]]
        if closed:
            row["Δ greedy closed EM"] = _interval([grpo[i]["em"] - sft[i]["em"] for i in closed])
        rows.append(row)
    if not rows:
        return None
    columns = [
        "run",
        "seed",
        "questions",
        "Δ sampled reward",
        "Δ greedy reward",
        "Δ greedy closed EM",
    ]
    return markdown_table(rows, columns)


def report(dirs) -> str:
    """Everything `searcher report` prints, for the run folders at or below ``dirs``."""
    from labcore.rundir import find_runs

    runs = find_runs(dirs, "searcher")
    text = results_table(runs)
    paired = paired_table(runs)
    if paired is not None:
        text += "\n\nSFT+GRPO − SFT, paired over test questions (mean [95% CI]):\n\n" + paired
    return text

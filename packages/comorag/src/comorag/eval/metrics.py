"""Per-question scores and their means: F1/EM or accuracy, evidence recall, cost."""

from __future__ import annotations

import numpy as np

from comorag import prompts
from comorag.agent.loop import Result
from labcore.metrics import exact_match, f1_score, normalize_answer


def span_recall(spans: list[dict], chunks: list[int], all_chunks: list[dict]) -> float | None:
    """Share of gold spans overlapped by at least one of ``chunks``."""
    if not spans:
        return None
    ranges = [(all_chunks[c]["start"], all_chunks[c]["end"]) for c in chunks]
    hit = sum(any(s < sp["end"] and e > sp["start"] for s, e in ranges) for sp in spans)
    return hit / len(spans)


def gold_contained(prediction: str, golds: list[str]) -> float:
    """1.0 when some gold answer, normalised, occurs as a run of whole words in the
    normalised prediction ("Gideon was the child of Nils" contains "Nils"), else 0.0.

    Whole sentences that hold the answer score 0 on EM; this metric credits them, and
    over-long answers are what it cannot tell apart from right ones.
    """
    pred = f" {normalize_answer(prediction)} "
    return float(any(g and f" {g} " in pred for g in map(normalize_answer, golds)))


def mc_correct(answer: str, choices: list[str], answer_index: int) -> float:
    """1.0 when ``answer`` names the gold option under :func:`comorag.prompts.match_choice`."""
    return float(prompts.match_choice(answer, choices) == prompts.LETTERS[answer_index])


def score(q: dict, result: Result, all_chunks: list[dict]) -> dict:
    """Per-question metrics."""
    row = {
        "id": q["id"],
        "type": q.get("type", ""),
        "answer": result.answer,
        "cycles": result.cycles,
        **result.trace["cost"],
        "seconds": result.trace["seconds"],
    }
    if q.get("choices"):
        row["mc"] = True
        row["correct"] = mc_correct(result.answer, q["choices"], q["answer_index"])
    else:
        row["mc"] = False
        row["f1"] = f1_score(result.answer, q["answers"])
        row["em"] = float(exact_match(result.answer, q["answers"]))
        row["contains"] = gold_contained(result.answer, q["answers"])
    row["evidence_recall"] = span_recall(q.get("evidence", []), result.chunks_seen, all_chunks)
    row["evidence_recall_prov"] = span_recall(
        q.get("evidence", []), result.chunks_provenance, all_chunks
    )
    row["chunks_seen"] = len(result.chunks_seen)
    return row


def summarise(rows: list[dict]) -> dict:
    """Means over questions (None-valued metrics skipped)."""

    def mean(key: str, subset: list[dict]) -> float | None:
        vals = [r[key] for r in subset if r.get(key) is not None]
        return round(float(np.mean(vals)), 4) if vals else None

    ff = [r for r in rows if not r["mc"]]
    mc = [r for r in rows if r["mc"]]
    hard = [r for r in rows if r["type"] in ("multi-hop", "temporal", "event-order")]
    return {
        "questions": len(rows),
        "free_form": len(ff),
        "multiple_choice": len(mc),
        "f1": mean("f1", ff),
        "em": mean("em", ff),
        "contains": mean("contains", ff),
        "mc_accuracy": mean("correct", mc),
        "evidence_recall": mean("evidence_recall", rows),
        "evidence_recall_multihop_temporal": mean("evidence_recall", hard),
        "evidence_recall_prov": mean("evidence_recall_prov", rows),
        "chunks_seen": mean("chunks_seen", rows),
        "calls_per_q": mean("calls", rows),
        "prompt_tokens_per_q": mean("prompt_tokens", rows),
        "completion_tokens_per_q": mean("completion_tokens", rows),
        "seconds_per_q": mean("seconds", rows),
        "cycles_per_q": mean("cycles", rows),
    }

"""Evaluation harness: ComoRAG, naive RAG and a RAPTOR-style tree on one index.

Per question: the answer, F1/EM (free-form) or accuracy (multiple choice), evidence recall
of the chunks the method packed into its prompts against the gold spans, and cost (LLM
calls, prompt and completion tokens, seconds).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from comorag import prompts
from comorag.config import LoopConfig
from comorag.loop import ComoRAG, Result
from comorag.retrieve import Retriever, Unit, format_units
from labcore.metrics import exact_match, f1_score


@dataclass
class Baseline:
    """One retrieval, one answer: ``naive`` (chunks) or ``raptor`` (collapsed tree)."""

    retriever: Retriever
    cfg: LoopConfig
    kind: str

    def ask(self, question: str, choices: list[str] | None = None) -> Result:
        r = self.retriever
        agents = r.res.agents
        before = len(agents.cost.records)
        start = time.perf_counter()
        qvec = r.embed([question])
        units: list[Unit] = r.dense("veridical", qvec, self.cfg.top_k)[0]
        if self.kind == "raptor":
            # Collapsed tree: leaves and every level's summaries, searched together.
            units = sorted(
                units + r.dense("semantic", qvec, self.cfg.top_k)[0], key=lambda u: -u.score
            )
        packed = r.pack(units, self.cfg.context_tokens, story_order=False)
        chunks = [u for u in packed if u.layer == "veridical"]
        summaries = [u for u in packed if u.layer == "semantic"]
        sections = {"veridical": format_units(chunks), "semantic": format_units(summaries)}
        conv = prompts.answer_prompt(question, sections, choices, allow_unknown=False)
        parse = prompts.parse_answer(choices)
        raw: list[str] = []

        def keep(text: str) -> str | None:
            raw.append(text)
            v = parse(text)
            return None if v == "*" else v

        [answer] = agents.run(
            "answer",
            [conv],
            keep,
            max_new_tokens=self.cfg.answer_tokens,
            reminder="Reply with exactly one line: ANSWER: <answer>",
        )
        if answer is None:
            answer = (raw[-1].strip().splitlines() or [""])[0][:100]
            if choices:
                answer = prompts.match_choice(answer, choices) or answer
        records = agents.cost.records[before:]
        prov = sorted({c for u in packed for c in u.chunks})
        trace = {
            "question": question,
            "choices": choices,
            "method": self.kind,
            "retrieved": [u.ref() for u in packed],
            "answer": answer,
            "raw_answer": raw,
            "seconds": round(time.perf_counter() - start, 3),
            "calls": [x.__dict__ for x in records],
            "cost": {
                "calls": len(records),
                "prompt_tokens": sum(x.prompt_tokens for x in records),
                "completion_tokens": sum(x.completion_tokens for x in records),
            },
        }
        return Result(answer, 0, trace, sorted(u.id for u in chunks), prov)


def make_method(method: str, retriever: Retriever, cfg: LoopConfig):
    if method == "comorag":
        return ComoRAG(retriever, cfg)
    return Baseline(retriever, cfg, method)


def span_recall(spans: list[dict], chunks: list[int], all_chunks: list[dict]) -> float | None:
    """Share of gold spans overlapped by at least one of ``chunks``."""
    if not spans:
        return None
    ranges = [(all_chunks[c]["start"], all_chunks[c]["end"]) for c in chunks]
    hit = sum(any(s < sp["end"] and e > sp["start"] for s, e in ranges) for sp in spans)
    return hit / len(spans)


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
        row["correct"] = float(result.answer.strip()[:1] == prompts.LETTERS[q["answer_index"]])
    else:
        row["mc"] = False
        row["f1"] = f1_score(result.answer, q["answers"])
        row["em"] = float(exact_match(result.answer, q["answers"]))
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

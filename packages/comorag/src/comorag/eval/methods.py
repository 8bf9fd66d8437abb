"""The methods compared on one index: ComoRAG, naive RAG, a RAPTOR-style collapsed tree,
and ``gold``, a reading check that is handed the evidence."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

from comorag import prompts
from comorag.agent.loop import ComoRAG, Result
from comorag.agent.retrieve import Retriever, Unit, format_units
from comorag.config import LoopConfig


@dataclass
class Baseline:
    """One retrieval, one answer: ``naive`` (chunks), ``raptor`` (collapsed tree) or
    ``gold`` (the chunks that hold the question's gold evidence first, then naive's
    ranking fills the same budget: an upper bound on what the reader gets right when
    retrieval is perfect, with as many distractors as naive RAG sees)."""

    retriever: Retriever
    cfg: LoopConfig
    kind: str

    @property
    def needs_evidence(self) -> bool:
        return self.kind == "gold"

    def ask(
        self,
        question: str,
        choices: list[str] | None = None,
        evidence: list[dict] | None = None,
    ) -> Result:
        r = self.retriever
        agents = r.res.agents
        before = len(agents.cost.records)
        start = time.perf_counter()
        qvec = r.embed([question])
        units: list[Unit] = r.dense("veridical", qvec, self.cfg.top_k)[0]
        if self.kind == "gold":
            if evidence is None:
                raise ValueError("method gold needs the question's evidence spans")
            held = gold_chunks(r.index.chunks, evidence)
            units = [r.unit("veridical", i, 1.0) for i in held] + [
                u for u in units if u.id not in held
            ]
        if self.kind == "raptor":
            # Collapsed tree: leaves and every level's summaries, searched together.
            units = sorted(
                units + r.dense("semantic", qvec, self.cfg.top_k)[0], key=lambda u: -u.score
            )
        packed = r.pack(units, self.cfg.context_tokens, story_order=False)
        chunks = [u for u in packed if u.layer == "veridical"]
        summaries = [u for u in packed if u.layer == "semantic"]
        sections = {"veridical": format_units(chunks), "semantic": format_units(summaries)}
        style = self.cfg.answer_style
        conv = prompts.answer_prompt(question, sections, choices, allow_unknown=False, style=style)
        raw: list[str] = []
        if choices and self.cfg.mc_answer == "score" and style == "short" and agents.can_score():
            answer, info = agents.choose(
                "answer", conv, choices, allow_unknown=False, rule=self.cfg.mc_choice
            )
            raw.append(json.dumps(info))
            return self._result(question, choices, packed, chunks, answer, raw, before, start)
        parse = (prompts.parse_final_answer if style == "reasoning" else prompts.parse_answer)(
            choices
        )

        def keep(text: str) -> str | None:
            raw.append(text)
            v = parse(text)
            return None if v == "*" else v

        [answer] = agents.run(
            "answer",
            [conv],
            keep,
            max_new_tokens=self.cfg.answer_tokens,
            reminder=(
                "End with a '### Final Answer' section."
                if style == "reasoning"
                else "Reply with exactly one line: ANSWER: <answer>"
            ),
            prefill="ANSWER:" if self.cfg.prefill and style == "short" else "",
        )
        if answer is None:
            answer = (raw[-1].strip().splitlines() or [""])[0][:100]
            if choices:
                answer = prompts.match_choice(answer, choices, letters=False) or answer
        return self._result(question, choices, packed, chunks, answer, raw, before, start)

    def _result(self, question, choices, packed, chunks, answer, raw, before, start) -> Result:
        agents = self.retriever.res.agents
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


def gold_chunks(chunks: list[dict], evidence: list[dict]) -> list[int]:
    """Ids of the chunks that overlap any gold evidence span (character offsets)."""
    return [
        c["id"]
        for c in chunks
        if any(c["start"] < e["end"] and e["start"] < c["end"] for e in evidence)
    ]


def make_method(method: str, retriever: Retriever, cfg: LoopConfig):
    if method == "comorag":
        return ComoRAG(retriever, cfg)
    return Baseline(retriever, cfg, method)


METHODS = ("comorag", "naive", "raptor", "gold")

"""The metacognitive loop: try, and on failure probe, tri-retrieve, encode, fuse, try again.

Step 0 retrieves with the question and tries an answer on the raw evidence. If the answer
agent says ``*`` (not enough evidence), each cycle writes up to ``max_probes`` new probes,
tri-retrieves for each (evidence already in memory is skipped), encodes one note per probe
and layer (one batch), fuses the pool's notes closest to the question, and tries again on
this cycle's notes plus the fused history. Multiple-choice options are shown only to the
answer agent.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field

import numpy as np

from comorag import prompts
from comorag.agent.memory import MemoryPool, MemoryUnit
from comorag.agent.retrieve import Retriever, Unit, format_units
from comorag.config import LoopConfig


@dataclass
class Result:
    """An answer and everything that led to it."""

    answer: str
    cycles: int
    trace: dict
    chunks_seen: list[int] = field(default_factory=list)
    """Chunks whose raw text was packed into any prompt (evidence recall)."""
    chunks_provenance: list[int] = field(default_factory=list)
    """Chunks behind any packed unit, summaries included."""


def _refs(pack: dict[str, list[Unit]]) -> dict[str, list[dict]]:
    return {layer: [u.ref() for u in units] for layer, units in pack.items()}


class ComoRAG:
    """Answers questions over one index with the loop; ``cfg`` holds the ablation switches."""

    def __init__(self, retriever: Retriever, cfg: LoopConfig) -> None:
        self.r = retriever
        self.cfg = cfg
        self.agents = retriever.res.agents
        self.agents.retries = cfg.format_retries

    # ------------------------------------------------------------------ agents

    def _answer(
        self,
        question: str,
        sections: dict[str, str],
        choices: list[str] | None,
        allow_unknown: bool,
    ) -> tuple[str, str]:
        style = self.cfg.answer_style
        conv = prompts.answer_prompt(
            question, sections, choices, allow_unknown=allow_unknown, style=style
        )
        if (
            choices
            and self.cfg.mc_answer == "score"
            and style == "short"
            and self.agents.can_score()
        ):
            letter, info = self.agents.choose(
                "answer", conv, choices, allow_unknown=allow_unknown, rule=self.cfg.mc_choice
            )
            return letter, json.dumps(info)
        parse = (prompts.parse_final_answer if style == "reasoning" else prompts.parse_answer)(
            choices
        )
        raw: list[str] = []

        def keep_raw(text: str) -> str | None:
            raw.append(text)
            value = parse(text)
            return None if value == "*" and not allow_unknown else value

        fmt = "ANSWER: <letter>" if choices else "ANSWER: <short answer>"
        [answer] = self.agents.run(
            "answer",
            [conv],
            keep_raw,
            max_new_tokens=self.cfg.answer_tokens,
            reminder=(
                "End with a '### Final Answer' section."
                if style == "reasoning"
                else f"Reply with exactly one line: {fmt}"
            ),
            # An answer that may be '*' is not started: a small model continuing "ANSWER:"
            # almost never writes '*', and the loop would stop at its first retrieval.
            prefill="ANSWER:"
            if self.cfg.prefill and style == "short" and not allow_unknown
            else "",
        )
        if answer is None:
            # Still unparseable: '*' when allowed (try again with more evidence), else the
            # raw reply's first line as a best effort.
            answer = "*" if allow_unknown else _first_line(raw[-1] if raw else "")
            if choices and answer != "*":
                answer = prompts.match_choice(answer, choices, letters=False) or answer
        return answer, raw[-1] if raw else ""

    def _probe(self, question: str, previous: list[str], notes: list[str]) -> list[str]:
        conv = prompts.probe_prompt(question, previous, notes, self.cfg.max_probes)
        [probes] = self.agents.run(
            "self-probe",
            [conv],
            prompts.parse_probes,
            max_new_tokens=self.cfg.probe_tokens,
            reminder="Write each query on its own line starting with PROBE:",
            prefill="PROBE:" if self.cfg.prefill else "",
        )
        seen = {p.lower() for p in previous}
        fresh = []
        for p in probes or []:
            if p.lower() not in seen and p.lower() != question.lower():
                fresh.append(p)
                seen.add(p.lower())
        # No usable probe: fall back to the question, so the cycle still brings new evidence.
        return fresh[: self.cfg.max_probes] or [question]

    def _encode(
        self, question: str, probes: list[str], packs: list[dict[str, list[Unit]]], cycle: int
    ) -> list[MemoryUnit]:
        jobs = [
            (p, layer, units)
            for p, pack in zip(probes, packs, strict=True)
            for layer, units in pack.items()
            if units
        ]
        if not jobs:
            return []
        convs = [
            prompts.encode_prompt(question, p, layer, format_units(units))
            for p, layer, units in jobs
        ]
        notes = self.agents.run(
            "mem-encode",
            convs,
            prompts.parse_notes,
            max_new_tokens=self.cfg.encode_tokens,
            fallback=prompts.notes_fallback,
            reminder="Write up to 5 lines, each starting with '- '.",
        )
        embs = self.r.embed([f"{p} {n or ''}" for (p, _, _), n in zip(jobs, notes, strict=True)])
        return [
            MemoryUnit(p, layer, [u.ref() for u in units], n or "", e, cycle)
            for (p, layer, units), n, e in zip(jobs, notes, embs, strict=True)
        ]

    def _fuse(
        self,
        question: str,
        qemb: np.ndarray,
        pool: MemoryPool,
        cycle: int,
    ) -> MemoryUnit | None:
        chosen = pool.closest(qemb, self.cfg.fuse_share)
        if not chosen:
            return None
        conv = prompts.fuse_prompt(question, [u.note for u in chosen])
        [text] = self.agents.run(
            "mem-fuse",
            [conv],
            prompts.parse_prose,
            max_new_tokens=self.cfg.fuse_tokens,
            fallback=lambda _o: " ".join(u.note for u in chosen),
        )
        emb = self.r.embed([text])[0]
        evidence = [e for u in chosen for e in u.evidence]
        return MemoryUnit(question, "fusion", evidence, text, emb, cycle)

    # ------------------------------------------------------------------ the loop

    def ask(self, question: str, choices: list[str] | None = None) -> Result:
        """Answer ``question`` (with ``choices`` for multiple choice)."""
        cfg = self.cfg
        start = time.perf_counter()
        calls_before = len(self.agents.cost.records)
        query = question
        if choices and not cfg.hide_options:
            query = question + " " + " ".join(choices)  # the official code's behaviour
        budgets = cfg.budgets()
        seen_chunks: set[int] = set()
        prov: set[int] = set()

        def note_pack(pack: dict[str, list[Unit]]) -> None:
            for layer, units in pack.items():
                for u in units:
                    prov.update(u.chunks)
                    if layer == "veridical":
                        seen_chunks.add(u.id)

        trace: dict = {
            "question": question,
            "choices": choices,
            "config": {
                "layers": list(cfg.layers),
                "memory": cfg.memory,
                "probing": cfg.probing,
                "max_cycles": cfg.max_cycles,
                "budgets": budgets,
            },
            "steps": [],
        }
        [pack0] = self.r.tri_retrieve([query])
        note_pack(pack0)
        sections = {layer: format_units(units) for layer, units in pack0.items()}
        is_mc = bool(choices)
        allow = cfg.max_cycles > 0 and (not is_mc or cfg.star_at_step0_mc)
        answer, raw = self._answer(question, sections, choices, allow)
        trace["steps"].append(
            {
                "cycle": 0,
                "probes": [question],
                "retrieved": [_refs(pack0)],
                "answer": answer,
                "raw_answer": raw,
            }
        )
        pool = MemoryPool()
        qemb = self.r.embed([question])[0]
        cycle = 0
        probes_used: list[str] = [question]
        last_notes: list[str] = []
        if answer == "*" and cfg.memory:
            units = self._encode(question, [question], [pack0], 0)
            pool.add_pending(units)
            last_notes = [u.note for u in units]
        while answer == "*" and cycle < cfg.max_cycles:
            cycle += 1
            pool.merge()
            probes = self._probe(question, probes_used, last_notes) if cfg.probing else [question]
            probes_used += [p for p in probes if p not in probes_used]
            packs = self.r.tri_retrieve(probes, exclude=pool.seen_evidence() | _raw_seen(trace))
            for pack in packs:
                note_pack(pack)
            step: dict = {"cycle": cycle, "probes": probes, "retrieved": [_refs(p) for p in packs]}
            final = cycle == cfg.max_cycles
            if cfg.memory:
                units = self._encode(question, probes, packs, cycle)
                pool.add_pending(units)
                pool.merge()
                fused = self._fuse(question, qemb, pool, cycle)
                sections = {}
                for layer in cfg.layers:
                    notes = "\n".join(u.note for u in units if u.layer == layer and u.note)
                    sections[layer] = self.r.res.counter.truncate(notes, budgets[layer])
                history = [u for u in pool.units if u.layer == "fusion"]
                if fused is not None:
                    history.append(fused)
                    pool.add_pending([fused])
                sections["historical"] = self.r.res.counter.truncate(
                    "\n".join(f"- {u.note}" for u in history), budgets["historical"]
                )
                step["notes"] = [u.as_dict() for u in units]
                step["fused"] = fused.note if fused else None
                last_notes = [u.note for u in units]
            else:
                merged: dict[str, list[Unit]] = {}
                for pack in packs:
                    for layer, us in pack.items():
                        merged.setdefault(layer, []).extend(us)
                sections = {
                    layer: format_units(
                        self.r.pack(
                            sorted(us, key=lambda u: -u.score), budgets[layer], story_order=False
                        )
                    )
                    for layer, us in merged.items()
                }
            answer, raw = self._answer(
                question, sections, choices, allow_unknown=not (final and cfg.force_final)
            )
            step.update(answer=answer, raw_answer=raw)
            trace["steps"].append(step)
        if answer == "*" and cfg.force_final and cfg.max_cycles == 0:
            answer, raw = self._answer(question, sections, choices, allow_unknown=False)
        pool.merge()
        records = self.agents.cost.records[calls_before:]
        trace.update(
            answer=answer,
            cycles=cycle,
            seconds=round(time.perf_counter() - start, 3),
            memory=[u.as_dict() for u in pool.units],
            calls=[r.__dict__ for r in records],
            cost={
                "calls": len(records),
                "prompt_tokens": sum(r.prompt_tokens for r in records),
                "completion_tokens": sum(r.completion_tokens for r in records),
            },
            chunks_seen=sorted(seen_chunks),
        )
        return Result(answer, cycle, trace, sorted(seen_chunks), sorted(prov))


def _first_line(text: str) -> str:
    """Best-effort answer from an unparseable reply: its first line, label removed."""
    line = (text.strip().splitlines() or [""])[0]
    return re.sub(r"^\s*ANSWER\s*[:\uff1a]\s*", "", line, flags=re.I).strip()[:100]


def _raw_seen(trace: dict) -> set[tuple[str, int]]:
    """Evidence already shown raw (step 0 and earlier cycles), for the no-memory variant."""
    seen = set()
    for step in trace["steps"]:
        for pack in step["retrieved"]:
            for layer, refs in pack.items():
                seen.update((layer, r["id"]) for r in refs)
    return seen

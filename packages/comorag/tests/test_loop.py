"""The metacognitive loop's control flow with a scripted chat model."""

from __future__ import annotations

import dataclasses
import json

import pytest

from comorag.agent.loop import ComoRAG
from comorag.agent.retrieve import Retriever
from comorag.config import IndexConfig, LoopConfig
from comorag.eval.methods import Baseline
from comorag.index.build import build_index
from comorag.index.store import Index

LOOP = LoopConfig(context_tokens=100, max_cycles=3)


@pytest.fixture(scope="module")
def index(tmp_path_factory, embedder, story, scripted, reply):
    from comorag.index.chunking import TokenCounter
    from comorag.index.resources import Resources
    from comorag.llm import Agents

    folder = tmp_path_factory.mktemp("loop")
    story_path = folder / "story.txt"
    story_path.write_text(story, encoding="utf-8")
    counter = TokenCounter(embedder.model.tokenizer, embedder.model.max_seq_length)
    res = Resources(embedder, counter, Agents(scripted(reply)))
    build_index(
        story_path,
        folder / "idx",
        IndexConfig(chunk_tokens=20),
        res,
        llm_name="s",
        quiet=True,
        progress=False,
    )
    return Index.load(folder / "idx")


def _loop(index, make_res, llm, **changes):
    cfg = dataclasses.replace(LOOP, **changes)
    retriever = Retriever(index, make_res(llm), cfg)
    return ComoRAG(retriever, cfg), retriever


def _with(reply, **roles):
    def r(role, conv):
        if role in roles:
            value = roles[role]
            return value(conv) if callable(value) else value
        return reply(role, conv)

    return r


def test_stops_at_the_first_real_answer(index, make_res, scripted, reply):
    llm = scripted(reply)
    loop, _ = _loop(index, make_res, llm)
    result = loop.ask("Where did Mara die?")
    assert result.answer == "Ashford" and result.cycles == 0
    assert llm.roles() == ["Fact", "Answer"]
    assert len(result.trace["steps"]) == 1 and result.trace["cost"]["calls"] == 2


def test_runs_at_most_max_cycles(index, make_res, scripted, reply):
    llm = scripted(_with(reply, Answer="ANSWER: *"))
    loop, _ = _loop(index, make_res, llm)
    result = loop.ask("Where did Mara die?")
    roles = llm.roles()
    assert result.cycles == 3 and roles.count("Probe") == 3 and roles.count("Memory") == 3
    # 1 step-0 try + 3 cycles, and the last (no '*' allowed) is retried once, then handled.
    assert roles.count("Answer") == 1 + 3 + 1
    assert result.answer == "*"
    assert [s["cycle"] for s in result.trace["steps"]] == [0, 1, 2, 3]
    # Mem-encode for all probes x layers of a cycle goes out as one batch (later cycles
    # of this 6-chunk story may find nothing new to encode).
    encode_batches = [b for b in llm.batches if b[0][0] == "Evidence"]
    assert len(encode_batches) >= 2 and len(encode_batches[1]) > 3


def test_answer_after_a_failed_first_try(index, make_res, scripted, reply):
    answers = iter(["ANSWER: *", "ANSWER: Ashford"])
    llm = scripted(_with(reply, Answer=lambda conv: next(answers)))
    loop, _ = _loop(index, make_res, llm)
    result = loop.ask("Where did Mara die?")
    assert result.answer == "Ashford" and result.cycles == 1
    step = result.trace["steps"][1]
    assert step["probes"] == ["where did Mara live", "who betrayed Mara"]
    assert step["fused"] and step["notes"]
    units = result.trace["memory"]
    assert {u["layer"] for u in units} >= {"veridical", "semantic", "episodic", "fusion"}
    assert all(u["probe"] and "note" in u for u in units)
    # Evidence is never encoded twice: cycle 1 skipped what step 0 had already packed.
    step0 = {
        (layer, r["id"])
        for layer, refs in result.trace["steps"][0]["retrieved"][0].items()
        for r in refs
    }
    later = {
        (layer, r["id"]) for pack in step["retrieved"] for layer, refs in pack.items() for r in refs
    }
    assert not step0 & later


def test_probes_are_capped_and_deduplicated(index, make_res, scripted, reply):
    many = "\n".join(f"PROBE: query {i}" for i in [1, 1, 2, 3, 4, 5])
    answers = iter(["ANSWER: *", "ANSWER: Ashford"])
    llm = scripted(_with(reply, Probe=many, Answer=lambda conv: next(answers)))
    loop, _ = _loop(index, make_res, llm)
    result = loop.ask("Where did Mara die?")
    assert result.trace["steps"][1]["probes"] == ["query 1", "query 2", "query 3"]


def test_fusion_reads_the_closest_half_of_memory_in_order(index, make_res, scripted, reply):
    def encode(conv):
        user = conv[1]["content"]
        return (
            "- Tomas betrayed Mara in Ashford"
            if "(original passages)" in user
            else "- The weather was foggy and cold"
        )

    answers = iter(["ANSWER: *", "ANSWER: Ashford"])
    llm = scripted(_with(reply, Evidence=encode, Answer=lambda conv: next(answers)))
    loop, _ = _loop(index, make_res, llm)
    result = loop.ask("Who betrayed Mara?")
    [fuse] = [conv for batch in llm.batches for role, conv in batch if role == "Memory"]
    listed = [ln for ln in fuse[1]["content"].splitlines() if ln[:1].isdigit()]
    pool = [u for u in result.trace["memory"] if u["layer"] != "fusion"]
    assert len(listed) == -(-len(pool) // 2)
    # Order: cosine between the question and each unit's (probe + note) embedding, best first.
    q = loop.r.embed(["Who betrayed Mara?"])[0]
    sims = [float(loop.r.embed([f"{u['probe']} {u['note']}"])[0] @ q) for u in pool]
    ranked = [pool[i]["note"] for i in sorted(range(len(pool)), key=lambda i: -sims[i])]
    assert [ln.split(". ", 1)[1] for ln in listed] == ranked[: len(listed)]
    # Similarities differ, and every unit the fusion agent read is at least as close to the
    # question as every unit it did not read.
    order = sorted(range(len(pool)), key=lambda i: -sims[i])
    read, unread = order[: len(listed)], order[len(listed) :]
    assert max(sims) > min(sims) and unread
    assert min(sims[i] for i in read) >= max(sims[i] for i in unread)


def test_options_are_hidden_from_retrieval(index, make_res, scripted, reply):
    options = ["Eastport", "Ashford", "Kellmoor", "Greywater"]
    for hide in (True, False):
        llm = scripted(reply)
        loop, retriever = _loop(index, make_res, llm, hide_options=hide)
        seen = []
        original = retriever.candidates

        def spy(queries, layers, original=original, seen=seen):
            seen.extend(queries)
            return original(queries, layers)

        retriever.candidates = spy
        result = loop.ask("Where did Mara die?", options)
        assert result.answer == "B"
        assert any("Greywater" in q for q in seen) is (not hide)
        answer_prompt = next(c for b in llm.batches for r, c in b if r == "Answer")
        assert "D. Greywater" in answer_prompt[1]["content"]


def test_unparseable_output_is_retried_then_handled(index, make_res, scripted, reply):
    state = {"answers": 0}

    def answer(conv):
        state["answers"] += 1
        return "I am not sure what to say" if state["answers"] == 1 else "ANSWER: Ashford"

    llm = scripted(_with(reply, Answer=answer, Fact="no idea"))
    loop, _ = _loop(index, make_res, llm)
    result = loop.ask("Where did Mara die?")
    assert result.answer == "Ashford" and result.cycles == 0
    # The retry carried the bad reply and a reminder.
    retry = [c for b in llm.batches for r, c in b if r == "Answer"][1]
    assert retry[-2]["content"] == "I am not sure what to say" and "ANSWER" in retry[-1]["content"]
    calls = result.trace["calls"]
    assert [c["parsed"] for c in calls if c["role"] == "answer"] == [False, True]

    garbage = scripted(lambda role, conv: "???")
    loop, _ = _loop(index, make_res, garbage)
    result = loop.ask("Where did Mara die?")  # nothing parses anywhere: no crash
    assert result.cycles == 3
    assert result.trace["steps"][1]["probes"] == ["Where did Mara die?"]


def test_ablations(index, make_res, scripted, reply):
    llm = scripted(_with(reply, Answer="ANSWER: *"))
    loop, _ = _loop(index, make_res, llm, memory=False, max_cycles=2)
    loop.ask("Where did Mara die?")
    assert "Evidence" not in llm.roles() and "Memory" not in llm.roles()
    llm = scripted(_with(reply, Answer="ANSWER: *"))
    loop, _ = _loop(index, make_res, llm, probing=False, max_cycles=2)
    result = loop.ask("Where did Mara die?")
    assert "Probe" not in llm.roles()
    assert result.trace["steps"][2]["probes"] == ["Where did Mara die?"]
    llm = scripted(reply)
    loop, _ = _loop(index, make_res, llm, layers=("semantic",))
    result = loop.ask("Where did Mara die?")
    assert "Fact" not in llm.roles() and result.chunks_seen == []


def test_baselines_answer_in_one_call(index, make_res, scripted, reply):
    for kind in ("naive", "raptor"):
        llm = scripted(reply)
        retriever = Retriever(index, make_res(llm), LOOP)
        result = Baseline(retriever, LOOP, kind).ask("Where did Mara die?")
        assert result.answer == "Ashford" and llm.roles() == ["Answer"]
        used = sum(r["tokens"] for r in result.trace["retrieved"])
        assert used <= LOOP.context_tokens
        layers = {r["layer"] for r in result.trace["retrieved"]}
        assert layers == {"veridical"} if kind == "naive" else layers <= {"veridical", "semantic"}


def test_replies_are_started_with_their_format_where_the_model_continues(
    index, make_res, scripted, reply
):
    class Continuing(scripted):
        """Continues a started reply: answers only the rest of a well-formed reply."""

        continues_final_message = True

        def chat(self, conversations, **kw):
            full = super().chat(conversations, **kw)
            out = []
            for conv, text in zip(conversations, full, strict=True):
                started = conv[-1]["content"] if conv[-1]["role"] == "assistant" else ""
                assert text.startswith(started)
                out.append(text[len(started) :])
            return out

    def unsure(role, conv):
        # '*' whenever it is allowed, so the loop runs to its last, '*'-free answer.
        if role == "Answer" and "ANSWER: *" in conv[1]["content"]:
            return "ANSWER: *"
        return reply(role, conv)

    llm = Continuing(unsure)
    loop, _ = _loop(index, make_res, llm, max_cycles=2, memory=False)
    result = loop.ask("Where did Mara die? (started)")
    started = {conv[-1]["content"] for batch in llm.batches for _, conv in batch}
    assert {"ANSWER:", "KEEP:", "PROBE:"} <= started and result.answer == "Ashford"
    answers = [conv for batch in llm.batches for role, conv in batch if role == "Answer"]
    # Answers that may be '*' are not started (a started small model never says '*');
    # the last one, which may not, is.
    may_be_unsure = ["ANSWER: *" in conv[1]["content"] for conv in answers]
    assert may_be_unsure == [True] * (len(answers) - 1) + [False]
    assert [conv[-1]["role"] for conv in answers] == ["user"] * (len(answers) - 1) + ["assistant"]
    calls = [c for c in result.trace["calls"] if c["role"] == "answer"]
    assert calls and all(c["output"].startswith("ANSWER:") and c["parsed"] for c in calls)
    # --loop.prefill false: the prompts end with the user's turn.
    llm = Continuing(reply)
    _loop(index, make_res, llm, prefill=False)[0].ask("Where did Mara die? (plain)")
    assert all(conv[-1]["role"] == "user" for batch in llm.batches for _, conv in batch)


def test_gold_method_reads_the_evidence_chunks_first(index, make_res, scripted, reply):
    from comorag.eval.methods import gold_chunks

    last = index.chunks[-1]
    span = {"start": last["start"] + 1, "end": last["start"] + 5}
    assert gold_chunks(index.chunks, [span]) == [last["id"]]
    retriever = Retriever(index, make_res(scripted(reply)), LOOP)
    gold = Baseline(retriever, LOOP, "gold")
    result = gold.ask("Where did Mara die?", evidence=[span])
    refs = result.trace["retrieved"]
    assert refs[0]["id"] == last["id"] and last["id"] in result.chunks_seen
    # The rest of the budget is naive RAG's ranking, so the reader sees as much text.
    naive = Baseline(retriever, LOOP, "naive").ask("Where did Mara die?").trace["retrieved"]
    assert {r["id"] for r in refs} - {last["id"]} <= {r["id"] for r in naive}
    with pytest.raises(ValueError, match="evidence"):
        gold.ask("Where did Mara die?")


def test_multiple_choice_by_log_probability(index, make_res, scripted, reply):
    class Scoring(scripted):
        """Scores continuations from a table: letters, '*' and option texts; the
        evidence-free prior prompt (question 'N/A') reads its own table."""

        def __init__(self, table, prior=None, **kw):
            super().__init__(reply, **kw)
            self.table, self.prior = table, prior or {}
            self.scored = []

        def score_continuations(self, conversation, continuations, *, prefill=""):
            is_prior = "Question: N/A" in conversation[-1]["content"]
            self.scored.append((prefill, list(continuations)))
            table = self.prior if is_prior else self.table
            return [table.get(c.strip(), -9.0) for c in continuations]

    options = ["Eastport", "Ashford", "Kellmoor", "Greywater"]
    table = {"*": -0.1, "D": -0.5, "Ashford": -0.2, "Kellmoor": -1.0}
    prior = {"Ashford": -0.1, "Kellmoor": -3.0}  # Kellmoor is unlikely without evidence
    llm = Scoring(table, prior)
    loop, _ = _loop(index, make_res, llm, max_cycles=1)
    result = loop.ask("Where did Mara die?", options)
    # Step 0 may say '*' (its letter scored best), the last try may not: by default the
    # calibrated text score decides, and Kellmoor gains most from the evidence.
    assert [s["answer"] for s in result.trace["steps"]] == ["*", "C"]
    assert result.answer == "C" and "Answer" not in llm.roles()
    texts = [f" {o}" for o in options]
    # Letters and option texts are scored in one call, so the prompt is run once; the
    # prior prompt scores the texts alone.
    assert llm.scored[0] == ("ANSWER:", [" A", " B", " C", " D", " *", *texts])
    assert llm.scored[1] == ("ANSWER:", texts)
    assert [" A", " B", " C", " D", *texts] in [c for _, c in llm.scored]  # no '*' at the last try
    info = json.loads(result.trace["steps"][1]["raw_answer"])
    assert info["picks"] == {"letter": "D", "text": "B", "pmi": "C"} and info["agree"] is False
    for rule, want in (("letter", "D"), ("text", "B")):
        cfg = dataclasses.replace(LOOP, mc_choice=rule)
        retriever = Retriever(index, make_res(Scoring(table, prior)), cfg)
        assert Baseline(retriever, cfg, "naive").ask("Where?", options).answer == want
    calls = [c for c in result.trace["calls"] if c["role"] == "answer"]
    assert len(calls) == 2 and all(c["completion_tokens"] == 0 for c in calls)
    # Baselines score too; --loop.mc_answer generate asks the model to write the letter.
    retriever = Retriever(index, make_res(Scoring({"Greywater": -0.1})), LOOP)
    assert Baseline(retriever, LOOP, "naive").ask("Where?", options).answer == "D"
    gen = dataclasses.replace(LOOP, mc_answer="generate")
    llm = Scoring({"D": -0.1})
    assert (
        Baseline(Retriever(index, make_res(llm), gen), gen, "naive").ask("Where?", options).answer
        == "B"
    )
    assert llm.scored == [] and llm.roles() == ["Answer"]

"""Answer parsing and scoring: option labels, option texts, the format rule, gold-in-answer."""

from __future__ import annotations

import pytest

from comorag.agent.loop import Result
from comorag.eval.metrics import gold_contained, mc_correct, score, summarise
from comorag.prompts import match_choice, option_letter, parse_answer

CHOICES = ["Eastport", "Ashford", "Northreach", "Greywater"]


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("C", "C"),
        ("(C)", "C"),
        ("[C]", "C"),
        ("C.", "C"),
        ("C: because", "C"),
        ("Option b", "B"),
        ("option D is right", "D"),
        ("A", "A"),
        # Not labels: the article "A", a name's initial, a letter outside the options.
        ("A man moved to the coast", None),
        ("Dessa moved away", None),
        ("E", None),
        ("Because", None),
    ],
)
def test_option_labels(text, letter):
    assert option_letter(text, 4) == letter


@pytest.mark.parametrize(
    ("text", "letter"),
    [
        ("C", "C"),
        ("C. Northreach", "C"),
        # The option's text decides when the letter disagrees.
        ("D. Northreach", "C"),
        ("Northreach", "C"),
        ("She went to northreach.", "C"),
        ("Dessa moved to Ashford", "B"),
        # Two option texts and no label: no answer; with a label, the label.
        ("Ashford or Greywater", None),
        ("A. Eastport, not Ashford", "A"),
        ("A man moved", None),
        ("", None),
    ],
)
def test_match_choice(text, letter):
    assert match_choice(text, CHOICES) == letter


def test_option_text_inside_another_is_not_a_second_mention():
    choices = ["Ash", "Ashford Hall", "Kellmoor", "Greywater"]
    assert match_choice("She lived at Ashford Hall", choices) == "B"
    assert match_choice("She lived at Ash", choices) == "A"


def test_text_only_matching_ignores_letters():
    assert match_choice("C", CHOICES, letters=False) is None
    assert match_choice("D. Northreach", CHOICES, letters=False) == "C"


def test_parse_answer_needs_the_answer_line():
    mc = parse_answer(CHOICES)
    assert mc("Dessa moved to Eastport") is None  # no ANSWER line: retried, not read as D
    assert mc("A man came.") is None
    assert mc("ANSWER: D. Northreach") == "C"
    assert mc("Thinking...\nANSWER: A\nANSWER: (B)") == "B"  # the last line counts
    assert mc("ANSWER: *") == "*"
    assert mc("ANSWER: a man") is None
    free = parse_answer(None)
    assert free("Ashford") is None
    assert free("ANSWER: Ashford.") == "Ashford"


def test_gold_contained():
    assert gold_contained("Gideon was revealed to be the child of Nils", ["Nils"]) == 1.0
    assert gold_contained("The Eastport harbour", ["eastport"]) == 1.0
    assert gold_contained("Nilsson", ["Nils"]) == 0.0  # whole words only
    assert gold_contained("three", ["two", "three"]) == 1.0
    assert gold_contained("anything", [""]) == 0.0


def test_mc_correct_and_rows():
    assert mc_correct("D. Northreach", CHOICES, 2) == 1.0
    assert mc_correct("Dessa moved", CHOICES, 3) == 0.0
    chunks = [{"start": 0, "end": 10}, {"start": 10, "end": 20}]
    cost = {"calls": 1, "prompt_tokens": 5, "completion_tokens": 1}
    res = lambda a: Result(a, 0, {"cost": cost, "seconds": 0.1}, [1], [1])
    ff = {"id": "q1", "answers": ["Nils"], "evidence": [{"start": 12, "end": 15}]}
    mc = {"id": "q2", "choices": CHOICES, "answer_index": 2, "evidence": []}
    rows = [score(ff, res("the child of Nils"), chunks), score(mc, res("C"), chunks)]
    assert rows[0]["em"] == 0.0 and rows[0]["contains"] == 1.0
    assert rows[0]["evidence_recall"] == 1.0 and rows[1]["correct"] == 1.0
    summary = summarise(rows)
    assert summary["contains"] == 1.0 and summary["mc_accuracy"] == 1.0


def test_reasoning_prompt_and_final_answer_parser():
    from comorag.prompts import answer_prompt, parse_final_answer

    conv = answer_prompt(
        "Where?",
        {"veridical": "Mara died in Ashford."},
        CHOICES,
        allow_unknown=True,
        style="reasoning",
    )
    user = conv[1]["content"]
    assert "### Options Analysis" in user and "### Final Answer" in user and "*" in user
    mc = parse_final_answer(CHOICES)
    reply = "### Content Understanding\nA man...\n### Final Answer\nB. Ashford\n"
    assert mc(reply) == "B"
    assert mc("### Final Answer: D. Northreach") == "C"
    assert mc("### Final Answer\n*") == "*"
    assert mc("ANSWER: B") is None  # the reasoning layout needs its heading
    free = parse_final_answer(None)
    assert free("### Key Facts\n...\n### Final Answer\n\nAshford.") == "Ashford"


def test_context_window_warning():
    from comorag.config import PRESETS
    from comorag.llm import context_warning

    gpu = PRESETS["gpu"].loop
    warning = context_warning(2048, gpu.context_tokens, gpu.answer_tokens)
    assert warning.startswith("warning:") and "2048" in warning and "num_ctx" in warning
    smoke = PRESETS["smoke"].loop
    assert context_warning(2048, smoke.context_tokens, smoke.answer_tokens) is None
    assert context_warning(None, 10**6, 10) is None

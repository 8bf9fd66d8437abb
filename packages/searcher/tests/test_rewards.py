"""Each reward against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from searcher.agent.rewards import (
    closed_ended_reward,
    extract_answer,
    finding_scores,
    format_reward,
    open_ended_reward,
    query_diversity,
    split_findings,
)


class _FakeTokenizer:
    def __call__(self, text):
        # [CLS] + one token per word + [SEP], like MiniLM's count with special tokens.
        return {"input_ids": [0] * (len(text.split()) + 2)}


class _FakeEmbedder:
    """Unit vectors chosen per text, so that cosines are known exactly."""

    def __init__(self, table):
        self.table = {
            k: np.asarray(v, dtype=np.float32) / np.linalg.norm(v) for k, v in table.items()
        }
        self.model = type("M", (), {"tokenizer": _FakeTokenizer()})()

    def encode(self, texts):
        return np.stack([self.table[t] for t in texts])


def test_closed_ended():
    assert closed_ended_reward("<think>x</think><answer>The  Paris!</answer>", ["paris"]) == 1.0
    assert closed_ended_reward("<answer>Lyon</answer>", ["Paris", "lyon"]) == 1.0
    assert closed_ended_reward("<answer>Paris France</answer>", ["Paris"]) == 0.0
    assert closed_ended_reward("no answer", ["Paris"]) == 0.0
    # F1 option: tokens {paris, france} vs {paris}: P=1/2, R=1 -> 2/3.
    assert closed_ended_reward(
        "<answer>Paris France</answer>", ["Paris"], metric="f1"
    ) == pytest.approx(2 / 3)
    # Last answer wins.
    assert closed_ended_reward("<answer>Lyon</answer><answer>Paris</answer>", ["Paris"]) == 1.0


def test_faithful_extraction_quirk():
    prompt = "put it inside <answer> and </answer>"
    # The official extractor needs two matches in prompt + response and skips "and".
    assert extract_answer("<answer>Paris</answer>", prompt=prompt, faithful=True) == "Paris"
    assert extract_answer("no answer", prompt=prompt, faithful=True) is None
    assert extract_answer("<answer>Paris</answer>", prompt="", faithful=True) is None
    assert extract_answer("<answer>Paris</answer>") == "Paris"


def test_format_reward_hand_computed():
    # Two distinct bullets sharing no words: cosine 0 -> u=[0], s=0, d=1.
    # f = 1 - 1/3 (one non-bullet line), c = 2/10.
    ans = "Key findings:\n- alpha beta\n- gamma delta"
    expected = (0.5 * (2 / 3) + 0.3 * 0.2 + 0.5 * 1.0) / 1.3
    assert format_reward(ans) == pytest.approx(expected)
    # Identical bullets: cosine 1 -> s = 0.5 + 0.3*2 + 0.2 = 1.3 -> d = 0; dup = 1 - 1/2.
    dup = "- same words\n- same words"
    assert format_reward(dup) == 0.0  # clipped: (0.5 + 0.06)/1.3 - 1.5 < 0
    assert format_reward(None) == 0.0 and format_reward("  ") == 0.0 and format_reward("and") == 0.0
    # Ten or more distinct bullets saturate the count term.
    ten = "\n".join(f"- word{i} unique{i}" for i in range(12))
    assert format_reward(ten) == pytest.approx((0.5 + 0.3 + 0.5) / 1.3)


def test_split_findings():
    ans = "- A well-known fact\n- Second one\nplain line"
    assert split_findings(ans) == ["A well-known fact", "Second one", "plain line"]
    # The official split on every '-' also splits hyphenated words.
    assert split_findings(ans, faithful=True) == ["A well", "known fact", "Second one\nplain line"]


def test_finding_scores_hungarian():
    emb = _FakeEmbedder(
        {
            "g1": [1, 0, 0],
            "g2": [0.9, 0.1, 0],
            "g3": [0, 0, 1],
            "r1": [1, 0, 0],
            "r2": [0, 1, 0],
        }
    )
    # g1 and g2 both match r1 (cos 1 and 0.994); only g1 is kept for r1; g3 matches nothing.
    s = finding_scores(["g1", "g2", "g3"], ["r1", "r2"], embedder=emb)
    assert s.matches == 1
    assert s.precision == pytest.approx(1 / 3) and s.recall == pytest.approx(1 / 2)
    assert s.f1 == pytest.approx(2 * (1 / 3) * (1 / 2) / (1 / 3 + 1 / 2))
    # Below tau: cos([1,1,0],[1,0,0]) = 0.707 < 0.75.
    emb2 = _FakeEmbedder({"g": [1, 1, 0], "r": [1, 0, 0]})
    assert finding_scores(["g"], ["r"], embedder=emb2).f1 == 0.0
    assert finding_scores(["g"], ["r"], embedder=emb2, tau=0.7).f1 == 1.0


def test_query_diversity_hand_computed():
    # Orthogonal queries: 1 - sim = 1 for each pair, n=3 -> w=0.5 -> s_i = 0.5.
    # Lengths: "a b c d e f" has 6 words + 2 specials = 8 tokens -> factor 1;
    # "short q" -> 4 tokens -> 0.5; "x" -> 3 tokens -> 0.375.
    emb = _FakeEmbedder({"a b c d e f": [1, 0, 0], "short q": [0, 1, 0], "x": [0, 0, 1]})
    expected = round((0.5 * 1 + 0.5 * 0.5 + 0.5 * 0.375) / 3, 2)
    assert query_diversity(["a b c d e f", "short q", "x"], embedder=emb) == expected
    # All near-identical: 0.5 * 0.2^(n-1).
    emb_same = _FakeEmbedder({"q1": [1, 0], "q2": [1, 0.01]})
    assert query_diversity(["q1", "q2"], embedder=emb_same) == pytest.approx(0.5 * 0.2)
    assert query_diversity(["only one"], embedder=emb) == 0.0


def test_open_ended_total_combines_parts():
    emb = _FakeEmbedder(
        {
            "fact one": [1, 0, 0, 0],
            "fact two": [0, 1, 0, 0],
            "ref one": [1, 0, 0, 0],
            "ref two": [0, 1, 0, 0],
            "ref three": [0, 0, 1, 0],
            "q alpha": [0, 0, 0, 1],
            "q beta": [0, 0, 1, 0],
        }
    )
    response = (
        "<search><query>q alpha</query><query>q beta</query></search>\n"
        "<answer>- fact one\n- fact two</answer>"
    )
    r = open_ended_reward(response, ["ref one", "ref two", "ref three"], embedder=emb)
    fmt = (
        0.5 * 1 + 0.3 * 0.2 + 0.5 * 1.0
    ) / 1.3  # 'fact one'/'fact two' share 'fact': check d below
    p, rec = 1.0, 2 / 3
    f1 = 2 * p * rec / (p + rec)
    assert r.factual == pytest.approx(f1)
    assert r.format == pytest.approx(format_reward("- fact one\n- fact two"))
    assert r.format < fmt  # the shared word lowers TF-IDF diversity
    # Two orthogonal 4-token queries: s_i = 0.5, length factor 0.5 -> 0.25.
    assert r.diversity == pytest.approx(0.25)
    assert r.total == pytest.approx(0.5 * (r.format + f1 + 0.5 * 0.25) / 2.5)
    assert math.isclose(open_ended_reward("no answer", ["ref one"], [], embedder=emb).total, 0.0)


def test_real_minilm_factual():
    """With the bundled MiniLM, a paraphrase matches and an unrelated sentence does not."""
    s = finding_scores(
        ["Velmora Institute was founded in 1873."],
        ["Velmora Institute was founded in 1873.", "The river is long."],
    )
    assert s.matches == 1 and s.recall == 0.5

"""LocalChatModel with the bundled SmolLM2-135M-Instruct on CPU (short generations)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch

from labcore.llm import ChatModel, LocalChatModel
from labcore.llm.stop_strings import truncate_at_stop

MAX_NEW = 16
PROMPTS = [
    "What is the capital of France?",
    "Count from 1 to 10.",
    "Hi",
    "Explain photosynthesis in one sentence for a ten year old child who loves plants.",
]


def user(text: str) -> list[dict]:
    return [{"role": "user", "content": text}]


CONVERSATIONS = [user(p) for p in PROMPTS]


@pytest.fixture(scope="module")
def llm() -> Iterator[LocalChatModel]:
    # One intra-op thread: these generations are tiny, and on a shared machine two
    # threads that wait on each other while another job holds a core ran 10-20x slower.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield LocalChatModel(device="cpu", batch_size=16)
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def one_at_a_time(llm) -> list[str]:
    """Greedy answers generated alone (no padding), the reference for batched runs."""
    return [llm.chat([conv], max_new_tokens=MAX_NEW)[0] for conv in CONVERSATIONS]


def test_answers_capital_of_france_greedily(llm, one_at_a_time):
    assert isinstance(llm, ChatModel)
    assert llm.model_name == "smollm2-135m-instruct"
    assert "Paris" in one_at_a_time[0]


def test_batched_equals_one_at_a_time(llm, one_at_a_time, monkeypatch):
    assert llm.chat(CONVERSATIONS, max_new_tokens=MAX_NEW) == one_at_a_time
    # Several chunks: results still come back in input order.
    monkeypatch.setattr(llm, "batch_size", 3)
    assert llm.chat(CONVERSATIONS, max_new_tokens=MAX_NEW) == one_at_a_time


def test_stop_strings_truncate_each_sequence(llm, one_at_a_time):
    stop = ["Paris", "\n"]
    answers = llm.chat(CONVERSATIONS, max_new_tokens=MAX_NEW, stop=stop)
    assert answers == [truncate_at_stop(a, stop) for a in one_at_a_time]
    assert answers[0] == "The capital of France is "
    assert answers[2] == one_at_a_time[2]  # has no stop string: not cut by the others


def test_generation_ends_once_every_sequence_hit_a_stop_string(llm, monkeypatch):
    widths = []
    generate = llm.model.generate

    def recording_generate(*args, **kwargs):
        output = generate(*args, **kwargs)
        widths.append(output.shape[1] - kwargs["input_ids"].shape[1])
        return output

    monkeypatch.setattr(llm.model, "generate", recording_generate)
    answers = llm.chat(CONVERSATIONS[:2], max_new_tokens=MAX_NEW, stop=[" "])
    assert all(" " not in a for a in answers)
    assert widths[0] < MAX_NEW


def test_seed_makes_sampling_reproducible(llm):
    conversations = [user("Write a short poem about the sea."), user("Tell me a story.")]
    rng_before = torch.get_rng_state()

    def sample(seed):
        return llm.chat(conversations, max_new_tokens=MAX_NEW, temperature=1.0, seed=seed)

    first = sample(7)
    assert sample(7) == first
    assert sample(8) != first
    # The caller's random state is left alone.
    assert torch.equal(torch.get_rng_state(), rng_before)


def test_truncate_at_stop_uses_the_earliest_stop():
    assert truncate_at_stop("a. b! c", [" c", "!"]) == "a. b"
    assert truncate_at_stop("abc", []) == "abc"
    assert truncate_at_stop("abc", ["x"]) == "abc"


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_batched_generation_and_seeding():
    llm = LocalChatModel(device="cuda")
    answers = llm.chat(CONVERSATIONS, max_new_tokens=MAX_NEW, stop=["\n"])
    assert len(answers) == len(CONVERSATIONS)
    assert "Paris" in answers[0]
    # bf16 kernels may round differently with padding, so batched output is not
    # compared with one-at-a-time here; seeded sampling must still repeat exactly.
    sampled = llm.chat(CONVERSATIONS, max_new_tokens=MAX_NEW, temperature=1.0, seed=1)
    assert llm.chat(CONVERSATIONS, max_new_tokens=MAX_NEW, temperature=1.0, seed=1) == sampled


def test_score_continuations_prefers_the_right_option(llm):
    conv = user("Which is a colour? Options: A. table  B. blue. Reply with the letter.")
    letters = llm.score_continuations(conv, [" A", " B"], prefill="ANSWER:")
    assert len(letters) == 2 and all(x < 0 for x in letters)
    texts = llm.score_continuations(user("The capital of France is"), [" Paris", " potato"])
    assert texts[0] > texts[1]
    # Scores are per continuation: the same call one at a time gives the same numbers.
    alone = [llm.score_continuations(conv, [c], prefill="ANSWER:")[0] for c in (" A", " B")]
    assert alone == pytest.approx(letters, abs=1e-4)
    assert llm.score_continuations(conv, []) == []


def test_a_final_assistant_message_is_continued(llm):
    question = user("What is the capital of France? Reply as ANSWER: <city>.")
    started = [*question, {"role": "assistant", "content": "ANSWER:"}]
    # The reply so far is appended after the generation prompt, with no end-of-turn.
    assert llm.render(started) == llm.render(question) + "ANSWER:"
    assert llm.encode(started)[: len(llm.encode(question))] == llm.encode(question)
    [reply] = llm.chat([started], max_new_tokens=6)
    assert not reply.lstrip().startswith("ANSWER") and "Paris" in reply
    # A lone assistant message is not a started reply.
    assert llm.render([{"role": "assistant", "content": "Hi"}]).endswith("assistant\n")

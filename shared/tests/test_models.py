import json

import pytest
import torch

from labcore import models
from labcore.errors import DataError


def _greedy_answer(model, tokenizer, question: str, max_new_tokens: int = 16) -> str:
    messages = [{"role": "user", "content": question}]
    batch = tokenizer.apply_chat_template(
        messages, add_generation_prompt=True, return_tensors="pt", return_dict=True
    ).to(model.device)
    out = model.generate(**batch, max_new_tokens=max_new_tokens, do_sample=False)
    return tokenizer.decode(out[0, batch["input_ids"].shape[1] :], skip_special_tokens=True)


@pytest.mark.slow
def test_smollm2_offline_then_from_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LABCORE_HOME", str(tmp_path))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    model, tokenizer = models.load_causal_lm("smollm2-135m-instruct", device="cpu")
    assert "Paris" in _greedy_answer(model, tokenizer, "What is the capital of France?")
    (folder,) = (tmp_path / "models").iterdir()
    assert (folder / "model.safetensors").is_file()

    # The second load must come from the safetensors cache, not a new conversion.
    def no_conversion(*args, **kwargs):
        raise AssertionError("converted the GGUF again")

    monkeypatch.setattr(models, "_convert_gguf", no_conversion)
    again, _ = models.load_causal_lm("smollm2-135m-instruct", device="cpu")
    ids = tokenizer("The capital of France is", return_tensors="pt").input_ids
    with torch.inference_mode():
        assert torch.equal(model(ids).logits, again(ids).logits)


def test_half_written_cache_is_rebuilt(tmp_path, monkeypatch):
    monkeypatch.setenv("LABCORE_HOME", str(tmp_path))
    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"not really a gguf")
    calls = []

    def fake_convert(src, out):
        calls.append(src)
        out.mkdir(parents=True)
        (out / "model.safetensors").write_bytes(b"x" * 10)
        (out / models._COMPLETE).write_text(json.dumps({"model.safetensors": 10}))

    monkeypatch.setattr(models, "_convert_gguf", fake_convert)
    folder = models.converted_gguf_folder(gguf)
    assert len(calls) == 1
    assert models.converted_gguf_folder(gguf) == folder and len(calls) == 1

    # A killed writer leaves a truncated file: the size check catches it.
    (folder / "model.safetensors").write_bytes(b"x" * 3)
    assert models.converted_gguf_folder(gguf) == folder
    assert len(calls) == 2
    # No completion marker at all: rebuilt too.
    (folder / models._COMPLETE).unlink()
    models.converted_gguf_folder(gguf)
    assert len(calls) == 3


def test_minilm_embeds_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    embedder = models.load_embedder("all-minilm-l6-v2", device="cpu")
    vectors = embedder.encode(
        ["a cat sits on the mat", "a kitten rests on a rug", "stock markets fell"]
    )
    assert vectors.shape == (3, 384)
    sims = vectors @ vectors.T
    assert sims[0, 1] > sims[0, 2]


def test_missing_local_model_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="not found"):
        models.resolve_model_path(tmp_path / "nope.gguf")
    with pytest.raises(DataError, match="not found"):
        models.resolve_model_path("./no/such/folder")


@pytest.mark.gpu
def test_smollm2_on_cuda_defaults_to_bf16():
    model, tokenizer = models.load_causal_lm("smollm2-135m-instruct")
    assert model.device.type == "cuda"
    assert model.dtype == torch.bfloat16
    assert "Paris" in _greedy_answer(model, tokenizer, "What is the capital of France?")

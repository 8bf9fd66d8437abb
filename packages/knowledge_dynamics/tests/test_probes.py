import numpy as np
import torch

from knowledge_dynamics.eval.probes import build_probes, score_probes
from knowledge_dynamics.model.tokenizer import train_tokenizer
from knowledge_dynamics.synth.generator import synth_knowledge


def test_batched_scoring_equals_per_example_loop():
    from knowledge_dynamics.config import ModelConfig
    from knowledge_dynamics.model import build_tiny
    from knowledge_dynamics.synth.background import synthetic_documents

    tok = train_tokenizer(synthetic_documents(300, 0), 400)
    torch.manual_seed(0)
    model = build_tiny(ModelConfig(d_model=32, n_layers=1, n_heads=2, ffn=48, seq_len=128), tok)
    items = synth_knowledge(3)
    probes = build_probes(items, tok)
    assert len(probes) == 3 * 15
    batched = score_probes(model, probes, batch_size=16)
    # Independent reference: tokenize each probe as the paper's code does, one forward each.
    k = 0
    for it in items:
        for ptype in ("memorization", "semantic", "composition"):
            for q, a in it.probes[ptype]:
                ids = [tok.eos_token_id, *tok(q + " " + a, add_special_tokens=False).input_ids]
                n_t = len(tok(" " + a, add_special_tokens=False).input_ids)
                with torch.no_grad():
                    lp = model(torch.tensor([ids])).logits[0, :-1].log_softmax(-1)
                tok_lp = lp[torch.arange(len(ids) - 1), torch.tensor(ids[1:])].double().numpy()
                np.testing.assert_allclose(batched["target"][k], tok_lp[-n_t:].mean(), atol=1e-5)
                np.testing.assert_allclose(batched["first"][k], tok_lp[-n_t], atol=1e-5)
                np.testing.assert_allclose(batched["full"][k], tok_lp.mean(), atol=1e-5)
                k += 1


def test_target_measure_equals_labcore_target_logprobs():
    """The probes' ``target`` measure is labcore's target-span log-prob on the same text."""
    from knowledge_dynamics.config import ModelConfig
    from knowledge_dynamics.model import build_tiny
    from knowledge_dynamics.synth.background import synthetic_documents
    from labcore.metrics import target_logprobs

    tok = train_tokenizer(synthetic_documents(300, 0), 400)
    torch.manual_seed(1)
    model = build_tiny(ModelConfig(d_model=32, n_layers=1, n_heads=2, ffn=48, seq_len=128), tok)
    items = synth_knowledge(3, seed=2)
    probes = build_probes(items, tok)
    ours = score_probes(model, probes, batch_size=7)["target"]
    pairs = [pa for it in items for t in ("memorization", "semantic", "composition")
             for pa in it.probes[t]]  # fmt: skip
    ref = target_logprobs(
        model, tok, [tok.eos_token + q for q, _ in pairs], [" " + a for _, a in pairs], 16
    )
    np.testing.assert_allclose(ours, ref.mean, atol=1e-5)

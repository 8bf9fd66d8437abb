import numpy as np
import torch

from knowledge_dynamics.data.synth import synth_knowledge
from knowledge_dynamics.probes import build_probes, score_probes
from knowledge_dynamics.tokenizer import train_tokenizer


def test_batched_scoring_equals_per_example_loop():
    from knowledge_dynamics.config import ModelConfig
    from knowledge_dynamics.data.corpus import synthetic_documents
    from knowledge_dynamics.model import build_tiny

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

"""Peak memory and speed of one GRPO-style forward/backward of SmolLM2, by micro-batch size
and activation recomputation.

Each setting runs in a fresh process (``ru_maxrss`` only grows): the bundled
SmolLM2-135M in fp32 with TRL's fused LM head (per-token log-probs and entropies without
full-vocabulary logits, as ``GRPOTrainer`` patches it), ``--micro`` random sequences of
``--tokens`` tokens (one row left-padded by a fifth), the mean log-prob loss and its
backward. No optimiser state is held, so a real step adds AdamW's two moments (about
1 GiB for 135M parameters).

    uv run --package searcher python packages/searcher/benchmarks/update_memory.py
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time


def one(micro: int, tokens: int, recompute: bool) -> None:
    import torch
    from trl.trainer.utils import add_fused_lm_head

    from labcore.models import load_causal_lm

    torch.manual_seed(0)
    model, _ = load_causal_lm("smollm2-135m-instruct", dtype=torch.float32)
    model.train()
    add_fused_lm_head(model, temperature=0.7, outputs=("log_probs", "entropy"))
    if recompute:
        model.activation_checkpointing_enable()
    ids = torch.randint(0, model.config.vocab_size, (micro, tokens))
    mask = torch.ones_like(ids)
    mask[0, : tokens // 5] = 0
    labels = ids.masked_fill(mask == 0, -100)
    start = time.perf_counter()
    out = model(input_ids=ids, attention_mask=mask, labels=labels, fused_lm_head=True)
    (out.log_probs.sum() / mask.sum() + 0.0 * out.entropy.sum()).backward()
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(
        f"micro-batch {micro}, {'recomputed' if recompute else 'kept     '} activations: "
        f"peak {peak:5.2f} GiB, {micro * tokens / wall:5.1f} tokens/s forward+backward",
        flush=True,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tokens", type=int, default=1300, help="tokens per sequence")
    ap.add_argument(
        "--one", nargs=2, type=int, metavar=("MICRO", "RECOMPUTE"), help=argparse.SUPPRESS
    )
    args = ap.parse_args()
    if args.one:
        one(args.one[0], args.tokens, bool(args.one[1]))
        return
    print(f"SmolLM2-135M fp32, sequences of {args.tokens} tokens, one forward/backward each")
    for micro, recompute in ((4, 0), (4, 1), (1, 0), (1, 1)):
        cmd = [sys.executable, __file__, "--tokens", str(args.tokens), "--one", str(micro)]
        subprocess.run([*cmd, str(recompute)], check=True, stderr=subprocess.DEVNULL)


if __name__ == "__main__":
    main()

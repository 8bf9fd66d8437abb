"""Measurements on a trained ensemble: storage, extraction, error types, attention, LoRA alignment."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from onelayer_theory.synth import A, World
from onelayer_theory.train.loop import sequence_loss


def stack_padded(tensors: Sequence[torch.Tensor], device) -> torch.Tensor:
    """Stack per-member tensors, padding shorter ones by repeating their first rows."""
    n = max(t.shape[0] for t in tensors)
    padded = [
        t if t.shape[0] == n else torch.cat([t, t[:1].expand(n - t.shape[0], *t.shape[1:])])
        for t in tensors
    ]
    return torch.stack(padded).to(device)


@torch.inference_mode()
def predict(model: nn.Module, prompts: torch.Tensor, chunk: int = 4096) -> torch.Tensor:
    """Greedy next token after each prompt: ``[E, n, L] -> [E, n]``."""
    outs = [
        model(prompts[:, i : i + chunk], last_only=True).argmax(-1)
        for i in range(0, prompts.shape[1], chunk)
    ]
    return torch.cat(outs, dim=1)


@torch.inference_mode()
def pretrain_loss(model: nn.Module, worlds: Sequence[World], chunk: int = 512) -> np.ndarray:
    """Per-member mean next-token loss on fresh biographies (held-out draws of the same process)."""
    device = next(model.parameters()).device
    bios = stack_padded([w.fresh_biographies[0] for w in worlds], device)
    total = torch.zeros(len(worlds), device=device)
    count = torch.zeros(len(worlds), device=device)
    for i in range(0, bios.shape[1], chunk):
        tokens = bios[:, i : i + chunk]
        n_tokens = (tokens[..., 1:] != 0).flatten(1).sum(1).float()
        total += sequence_loss(model(tokens), tokens) * n_tokens
        count += n_tokens
    return (total / count).cpu().numpy()


def error_types(pred: np.ndarray, answers: np.ndarray, relations: np.ndarray, world: World) -> dict:
    """Classify wrong answers: right relation but wrong subject's answer, another relation's answer, or other."""
    wrong = pred != answers
    pred_rel = world.vocab.relation_of_answer(pred)
    n = max(1, int(wrong.sum()))
    return {
        "err_same_relation": float((wrong & (pred_rel == relations)).sum() / n),
        "err_other_relation": float((wrong & (pred_rel >= 0) & (pred_rel != relations)).sum() / n),
        "err_not_an_answer": float((wrong & (pred_rel < 0)).sum() / n),
    }


@torch.inference_mode()
def attention_to_subject(
    model: nn.Module, prompts: torch.Tensor, subject_pos: int, n: int = 256
) -> np.ndarray:
    """Mean attention mass (over heads and prompts) from the last position onto the subject token."""
    if not hasattr(model, "attention_weights"):
        return np.full(prompts.shape[0], np.nan)
    probs = model.attention_weights(prompts[:, :n])  # [E, B, H, L, L]
    return probs[:, :, :, -1, subject_pos].mean(dim=(1, 2)).cpu().numpy()


@torch.inference_mode()
def update_alignment(
    model: nn.Module, pretrained_mlp_in: torch.Tensor | None
) -> dict[str, np.ndarray]:
    """How the fine-tuning update of the MLP input weights lines up with the Q&A format.

    ``qa_align`` is |cos| between the update's top input singular vector and the
    embedding of the ``A`` token (the Q&A-format direction at the answer position);
    ``top_sv_share`` is the share of the update's energy in its top singular value
    (close to 1 means the update is essentially rank one).
    """
    lin = getattr(model, "mlp_in", None)
    if lin is None:
        return {}
    delta = lin.delta() if lin.lora_A is not None else None
    if delta is None and pretrained_mlp_in is not None:
        delta = lin.weight - pretrained_mlp_in.to(lin.weight)
    if delta is None:
        return {}
    u, s, _ = torch.linalg.svd(delta.float(), full_matrices=False)  # delta: [E, d, m]
    qa_dir = model.tok_emb[:, A]
    cos = torch.nn.functional.cosine_similarity(u[:, :, 0], qa_dir, dim=-1).abs()
    share = s[:, 0] ** 2 / (s**2).sum(-1).clamp_min(1e-30)
    return {"qa_align": cos.cpu().numpy(), "top_sv_share": share.cpu().numpy()}


def evaluate(
    model: nn.Module, worlds: Sequence[World], pretrained_mlp_in: torch.Tensor | None = None
) -> list[dict]:
    """All measurements, one dict per member."""
    device = next(model.parameters()).device
    model.eval()
    rows = [{} for _ in worlds]

    def per_member(name: str, values) -> None:
        for row, v in zip(rows, values, strict=True):
            row[name] = float(v)

    stored = [w.heldout_stored for w in worlds]
    heldout = [w.heldout_qa for w in worlds]
    ft = [w.finetune_qa for w in worlds]
    stored_pred = predict(model, stack_padded([p for p, _, _ in stored], device)).cpu()
    heldout_pred = predict(model, stack_padded([p for p, _, _ in heldout], device)).cpu()
    ft_pred = predict(model, stack_padded([p for p, _, _ in ft], device)).cpu()
    for e, w in enumerate(worlds):
        row = rows[e]
        # Members' prompt sets can differ in size (padded when stacked): cut to their own.
        stored_hit = stored_pred[e, : len(stored[e][1])] == stored[e][1]
        row["stored_acc"] = float(stored_hit.float().mean())
        hit = heldout_pred[e, : len(heldout[e][1])] == heldout[e][1]
        covered = w.heldout_covered
        row["heldout_acc"] = float(hit.float().mean())
        row["heldout_acc_covered"] = (
            float(hit[covered].float().mean()) if covered.any() else float("nan")
        )
        row["heldout_acc_uncovered"] = (
            float(hit[~covered].float().mean()) if (~covered).any() else float("nan")
        )
        row["ft_acc"] = float((ft_pred[e, : len(ft[e][1])] == ft[e][1]).float().mean())
        # Hallucination: a held-out fact that is stored (right in pre-training format for
        # every statement of it) but answered wrongly in Q&A format.
        n_sub, R = len(w.heldout_subjects), w.cfg.n_relations
        fact_stored = stored_hit.view(n_sub, R, -1).all(-1)
        row["stored_not_extracted"] = float(
            (fact_stored[..., None] & ~hit.view(n_sub, R, -1)).float().mean()
        )
        row.update(
            error_types(
                heldout_pred[e, : len(heldout[e][1])].numpy(),
                heldout[e][1].numpy(),
                heldout[e][2].numpy(),
                w,
            )
        )
        row["bayes_loss"] = w.bayes_loss
    per_member(
        "attn_subject_pretrain_format",
        attention_to_subject(model, stack_padded([p for p, _, _ in stored], device), 1),
    )
    per_member(
        "attn_subject_qa_format",
        attention_to_subject(model, stack_padded([p for p, _, _ in heldout], device), 2),
    )
    for name, values in update_alignment(model, pretrained_mlp_in).items():
        per_member(name, values)
    return rows

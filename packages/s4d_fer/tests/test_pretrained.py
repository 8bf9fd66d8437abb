"""Loading official VideoMAE-style checkpoints (q/v biases, encoder. prefix, decoder) into ours."""

from __future__ import annotations

import argparse
import datetime

import pytest
import torch

from labcore.errors import DataError
from s4d_fer.config import ModelConfig
from s4d_fer.model import Encoder, MaskedAutoencoder, S4DClassifier, load_pretrained
from s4d_fer.model.vit import sinusoid_table

D, DEPTH, HEADS, PATCH, TUBELET, FRAMES, SIZE = 32, 2, 2, 8, 2, 4, 32
CFG = ModelConfig(
    preset="custom",
    img_size=SIZE,
    patch_size=PATCH,
    tubelet=TUBELET,
    embed_dim=D,
    depth=DEPTH,
    num_heads=HEADS,
    decoder_dim=16,
    decoder_depth=1,
    decoder_heads=2,
    moe_experts=4,
    moe_start_block=1,
)


def official_encoder(width: int = D, depth: int = DEPTH) -> dict[str, torch.Tensor]:
    """An encoder state dict with the official (VideoMAE) names and shapes, random values."""
    g = torch.Generator().manual_seed(0)

    def r(*shape):
        return torch.randn(*shape, generator=g)

    state = {
        "patch_embed.proj.weight": r(width, 3, TUBELET, PATCH, PATCH),
        "patch_embed.proj.bias": r(width),
    }
    for i in range(depth):
        b = f"blocks.{i}."
        state |= {
            b + "norm1.weight": r(width),
            b + "norm1.bias": r(width),
            b + "attn.qkv.weight": r(3 * width, width),
            b + "attn.q_bias": r(width),
            b + "attn.v_bias": r(width),
            b + "attn.proj.weight": r(width, width),
            b + "attn.proj.bias": r(width),
            b + "norm2.weight": r(width),
            b + "norm2.bias": r(width),
            b + "mlp.fc1.weight": r(4 * width, width),
            b + "mlp.fc1.bias": r(4 * width),
            b + "mlp.fc2.weight": r(width, 4 * width),
            b + "mlp.fc2.bias": r(width),
        }
    return state


def official_pretraining() -> dict[str, torch.Tensor]:
    """A full pre-training model as the official files store it: encoder. + decoder."""
    g = torch.Generator().manual_seed(1)
    state = {"encoder." + k: v for k, v in official_encoder().items()}
    state |= {
        "encoder.norm.weight": torch.rand(D, generator=g),
        "encoder.norm.bias": torch.rand(D, generator=g),
        "encoder_to_decoder.weight": torch.randn(16, D, generator=g),
        "mask_token": torch.zeros(1, 1, 16),
        "decoder.blocks.0.attn.qkv.weight": torch.randn(48, 16, generator=g),
        "decoder.norm.weight": torch.ones(16),
        "decoder.head.weight": torch.randn(3 * TUBELET * PATCH * PATCH, 16, generator=g),
    }
    return state


def classifier() -> S4DClassifier:
    torch.manual_seed(1)
    return S4DClassifier(CFG, FRAMES, video_classes=7, image_classes=7)


@pytest.fixture
def pretraining_file(tmp_path):
    path = tmp_path / "vit_base_voxceleb2+affectnet_100.pt"
    args = argparse.Namespace(model="pretrain_videomae_base_patch16_160", epochs=100)
    torch.save({"model": official_pretraining(), "epoch": 99, "args": args}, path)
    return path


def test_pretraining_file_lands_in_classifier(pretraining_file):
    model = classifier()
    report = load_pretrained(model, pretraining_file)
    src = official_pretraining()
    enc = model.encoder
    for i in range(DEPTH):
        attn = enc.blocks[i].attn
        q, v = src[f"encoder.blocks.{i}.attn.q_bias"], src[f"encoder.blocks.{i}.attn.v_bias"]
        assert torch.equal(attn.qkv.bias.data, torch.cat([q, torch.zeros(D), v]))
        assert torch.equal(attn.qkv.weight.data, src[f"encoder.blocks.{i}.attn.qkv.weight"])
        assert torch.equal(
            enc.blocks[i].mlp.fc2.weight.data, src[f"encoder.blocks.{i}.mlp.fc2.weight"]
        )
    assert torch.equal(enc.patch_embed.proj.weight.data, src["encoder.patch_embed.proj.weight"])
    # Report: every encoder tensor loaded; the decoder and the final norm dropped on purpose.
    assert report.ok, str(report)
    assert len(report.loaded) == 2 + DEPTH * 12
    assert "encoder.blocks.1.attn.qkv.bias" in report.loaded
    assert {"encoder_to_decoder.weight", "mask_token", "decoder.norm.weight"} <= set(report.dropped)
    assert "encoder.norm.weight" in report.dropped
    assert "encoder.blocks.1.moae.w1" in report.fresh and "heads.video.weight" in report.fresh
    assert "fc_norm.weight" in report.fresh
    assert not any(".moae." in k for k in report.missing)
    text = str(report)
    assert str(pretraining_file) in text and f"loaded {len(report.loaded)} tensors" in text
    assert "zero key bias" in text
    model(torch.randn(2, 3, FRAMES, SIZE, SIZE))  # still runs


def test_qkv_order_and_key_bias_match_official_attention(pretraining_file):
    """Our attention with the loaded weights equals the official formula: q, k, v rows of
    qkv in that order, q and v biased, k not."""
    enc = Encoder(CFG, FRAMES)
    load_pretrained(enc, pretraining_file)
    src = official_pretraining()
    w = src["encoder.blocks.0.attn.qkv.weight"]
    q_bias, v_bias = src["encoder.blocks.0.attn.q_bias"], src["encoder.blocks.0.attn.v_bias"]
    x = torch.randn(2, 5, D)
    q = x @ w[:D].T + q_bias
    k = x @ w[D : 2 * D].T
    v = x @ w[2 * D :].T + v_bias

    def heads(t):
        return t.reshape(2, 5, HEADS, D // HEADS).transpose(1, 2)

    att = (heads(q) @ heads(k).transpose(-1, -2) * (D // HEADS) ** -0.5).softmax(-1)
    out = (att @ heads(v)).transpose(1, 2).reshape(2, 5, D)
    expected = (
        out @ src["encoder.blocks.0.attn.proj.weight"].T + src["encoder.blocks.0.attn.proj.bias"]
    )
    torch.testing.assert_close(enc.blocks[0].attn(x), expected, atol=1e-4, rtol=1e-4)
    # A plain encoder keeps the pre-training final norm.
    torch.testing.assert_close(enc.norm.weight.data, src["encoder.norm.weight"])


def test_finetuned_file_nested_under_module(tmp_path):
    """A fine-tuned file (no prefix, fc_norm + head) saved by distributed training."""
    state = {"module." + k: v for k, v in official_encoder().items()}
    state |= {
        "module.fc_norm.weight": torch.rand(D),
        "module.fc_norm.bias": torch.rand(D),
        "module.head.weight": torch.randn(11, D),
        "module.head.bias": torch.randn(11),
    }
    path = tmp_path / "finetuned.pth"
    torch.save({"state_dict": state}, path)
    model = classifier()
    head_before = model.heads["video"].weight.detach().clone()
    report = load_pretrained(model, path, strict=True)
    assert torch.equal(model.fc_norm.weight.data, state["module.fc_norm.weight"])
    assert "fc_norm.weight" in report.loaded and "fc_norm.weight" not in report.fresh
    assert {"head.weight", "head.bias"} <= set(report.dropped)
    assert torch.equal(model.heads["video"].weight.data, head_before)


def test_masked_autoencoder_and_own_checkpoint_format(tmp_path):
    """Our pipeline's own {'encoder': ..., 'config': ...} file maps one to one."""
    torch.manual_seed(2)
    source = MaskedAutoencoder(CFG, FRAMES)
    path = tmp_path / "pretrain.ckpt"
    torch.save({"encoder": source.encoder.state_dict(), "config": {"seed": 0}}, path)
    torch.manual_seed(3)
    target = MaskedAutoencoder(CFG, FRAMES)
    report = load_pretrained(target, path, strict=True)
    for name, tensor in source.encoder.state_dict().items():
        assert torch.equal(target.encoder.state_dict()[name], tensor), name
    assert "encoder.norm.weight" in report.loaded
    assert "decoder_pred.weight" in report.fresh and not report.missing


def test_mismatch_is_reported_and_strict_refuses_without_copying(tmp_path):
    state = {"encoder." + k: v for k, v in official_encoder().items()}
    state["encoder.blocks.0.mlp.fc1.weight"] = torch.randn(8 * D, D)  # wider FFN
    state["encoder.blocks.0.attn.k_bias"] = torch.randn(D)  # not in any official file
    del state["encoder.blocks.1.mlp.fc2.bias"]
    path = tmp_path / "odd.pt"
    torch.save(state, path)
    model = classifier()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(DataError, match=r"odd\.pt: does not map cleanly.*1 missing"):
        load_pretrained(model, path, strict=True)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    report = load_pretrained(model, path)
    assert [(m.source, m.target) for m in report.mismatched] == [
        ("encoder.blocks.0.mlp.fc1.weight", "encoder.blocks.0.mlp.fc1.weight")
    ]
    assert report.mismatched[0].source_shape == (8 * D, D)
    assert report.unexpected == ["encoder.blocks.0.attn.k_bias"]
    assert report.missing == ["encoder.blocks.1.mlp.fc2.bias"]
    assert torch.equal(
        model.encoder.blocks[0].mlp.fc1.weight, before["encoder.blocks.0.mlp.fc1.weight"]
    )
    assert torch.equal(
        model.encoder.blocks[0].mlp.fc2.weight.data, state["encoder.blocks.0.mlp.fc2.weight"]
    )
    assert not report.ok and "mismatched: encoder.blocks.0.mlp.fc1.weight (256, 32)" in str(report)


def test_position_table_checked_not_loaded(tmp_path):
    n = (FRAMES // TUBELET) * (SIZE // PATCH) ** 2
    fixed = {"pos_embed": sinusoid_table(n, D)[None], **official_encoder()}
    torch.save(fixed, tmp_path / "fixed.pt")
    report = load_pretrained(classifier(), tmp_path / "fixed.pt", strict=True)
    assert any("fixed sinusoid" in note for note in report.notes)
    learned = {**fixed, "pos_embed": torch.randn(1, n, D) * 0.02}
    torch.save(learned, tmp_path / "learned.pt")
    report = load_pretrained(classifier(), tmp_path / "learned.pt")
    assert [m.reason for m in report.mismatched] == ["learned table; ours is a fixed sinusoid"]


def test_checkpoint_without_qkv_bias_gets_zero_bias(tmp_path):
    state = {k: v for k, v in official_encoder().items() if not k.endswith(("q_bias", "v_bias"))}
    torch.save(state, tmp_path / "nobias.pt")
    enc = Encoder(CFG, FRAMES)
    torch.nn.init.ones_(enc.blocks[0].attn.qkv.bias)
    report = load_pretrained(enc, tmp_path / "nobias.pt")
    assert torch.equal(enc.blocks[0].attn.qkv.bias.data, torch.zeros(3 * D))
    assert "blocks.0.attn.qkv.bias" in report.loaded


@pytest.mark.parametrize(
    "kind", ["missing", "garbage", "list", "unrelated", "other width", "pickled object"]
)
def test_bad_file_is_a_data_error_naming_it(tmp_path, kind):
    path = tmp_path / f"{kind.replace(' ', '_')}.pt"
    if kind == "garbage":
        path.write_bytes(b"this is not a checkpoint")
    elif kind == "list":
        torch.save([1, 2, 3], path)
    elif kind == "unrelated":
        torch.save({"model": {"conv1.weight": torch.zeros(3), "fc.bias": torch.zeros(2)}}, path)
    elif kind == "other width":  # e.g. a ViT-B file into the tiny model
        torch.save({"encoder." + k: v for k, v in official_encoder(width=48).items()}, path)
    elif kind == "pickled object":
        torch.save({"model": official_encoder(), "when": datetime.datetime(2025, 1, 1)}, path)
    with pytest.raises(DataError) as err:
        load_pretrained(classifier(), path)
    assert str(err.value).startswith(str(path)) and "\n" not in str(err.value)
    if kind == "other width":
        assert "mismatched" in str(err.value) and "model.preset" in str(err.value)
    if kind == "pickled object":
        assert "trust_pickle" in str(err.value)
        assert load_pretrained(classifier(), path, trust_pickle=True).ok


def test_wrong_module_type_is_refused():
    with pytest.raises(TypeError, match="Encoder"):
        load_pretrained(torch.nn.Linear(2, 2), "x.pt")


def test_stage_finetune_starts_from_an_official_file(micro_cfg, tmp_path):
    """`train --stage finetune --checkpoint FILE` with a public-style file: weights land, report logged."""
    from s4d_fer.train.pipeline import run_pipeline

    path = tmp_path / "vit_official.pth"
    state = official_pretraining()
    torch.save({"model": state}, path)
    run_pipeline(micro_cfg, tmp_path / "run", stage="finetune", checkpoint=str(path))
    log = (tmp_path / "run" / "finetune" / "log.txt").read_text()
    assert "loaded" in log and "0 mismatched" in log
    assert not (tmp_path / "run" / "pretrain").exists()  # no pre-training of our own
    # After one epoch of fine-tuning the embedding is still close to the file's, far from a fresh init.
    tuned = torch.load(tmp_path / "run" / "finetune" / "model.pt", weights_only=False)
    weights = tuned.get("state_dict", tuned.get("model", tuned))
    key = next(k for k in weights if k.endswith("patch_embed.proj.weight"))
    source = state["encoder.patch_embed.proj.weight"]
    assert torch.allclose(weights[key].float(), source, atol=0.05)

"""Tubelet embedding, masking (counts, no leakage), MoAE routing / balance loss / eval determinism."""

import pytest
import torch

from s4d_fer.config import ModelConfig, RunConfig
from s4d_fer.model import MaskedAutoencoder, MoAE, S4DClassifier, patchify, random_mask

TINY = ModelConfig(
    preset="custom",
    img_size=32,
    patch_size=8,
    embed_dim=32,
    depth=2,
    num_heads=2,
    decoder_dim=16,
    decoder_depth=1,
    decoder_heads=2,
    moe_experts=4,
    moe_start_block=1,
)


def test_token_counts_images_and_videos():
    mae = MaskedAutoencoder(TINY, num_frames=4)
    video, image = torch.randn(2, 3, 4, 32, 32), torch.randn(2, 3, 32, 32)
    assert mae.encoder.embed(video).shape == (2, 2 * 4 * 4, 32)
    assert mae.encoder.embed(image).shape == (2, 16, 32)
    assert mae.grid_for(video) == (2, 4, 4) and mae.grid_for(image) == (1, 4, 4)
    # An image is the clip made of that image repeated over one tubelet.
    still = image.unsqueeze(2).expand(-1, -1, 2, -1, -1)
    assert torch.allclose(mae.encoder.embed(image), mae.encoder.embed(still))


def test_base_preset_sizes():
    cfg = RunConfig().replace(**{"model.preset": "base", "data.num_frames": 16}).validate()
    m = cfg.model
    assert (m.embed_dim, m.depth, m.num_heads, m.img_size, m.patch_size, m.tubelet) == (
        768,
        12,
        12,
        160,
        16,
        2,
    )
    assert (m.decoder_dim, m.decoder_depth, m.moe_start_block) == (384, 4, 6)
    # 8 x 10 x 10 = 800 video tokens; an image gives 100.
    assert (16 // m.tubelet) * (m.img_size // m.patch_size) ** 2 == 800


def test_random_mask_counts():
    g = torch.Generator().manual_seed(0)
    m = random_mask(5, (8, 10, 10), 0.95, generator=g)
    assert m.shape == (5, 800) and (m.sum(1) == 760).all()
    assert (random_mask(3, (1, 10, 10), 0.9, generator=g).sum(1) == 90).all()
    tube = random_mask(4, (8, 10, 10), 0.9, tube=True, generator=g).view(4, 8, 100)
    assert (tube == tube[:, :1]).all() and (tube.sum(-1) == 90).all()
    assert not torch.equal(
        random_mask(2, (2, 4, 4), 0.5, generator=g), random_mask(2, (2, 4, 4), 0.5, generator=g)
    )


def test_patchify_order_matches_tokens():
    x = torch.arange(2 * 3 * 4 * 16 * 16, dtype=torch.float32).view(2, 3, 4, 16, 16)
    p = patchify(x, 8, 2)
    assert p.shape == (2, 2 * 2 * 2, 2 * 8 * 8, 3)
    # Token 1 = time step 0, row 0, column 1: pixels x[:, :, 0:2, 0:8, 8:16].
    expected = x[0, :, 0:2, 0:8, 8:16].permute(1, 2, 3, 0).reshape(-1, 3)
    assert torch.equal(p[0, 1], expected)


def test_masked_patches_never_reach_the_encoder():
    torch.manual_seed(0)
    mae = MaskedAutoencoder(TINY, num_frames=4).eval()
    x = torch.randn(2, 3, 4, 32, 32)
    mask = random_mask(2, mae.grid_for(x), 0.75)
    seen = []
    handle = mae.encoder.blocks[0].register_forward_hook(lambda m, i, o: seen.append(i[0].shape))
    ref = mae(x, mask)
    assert seen[0] == (2, 8, 32)  # 32 tokens, 24 masked: only 8 visible go through the blocks
    # Changing the pixels of masked patches changes nothing the model computes from visible tokens.
    tokens_masked = mask.view(2, 2, 4, 4)
    pix = (
        tokens_masked.repeat_interleave(2, 1)
        .repeat_interleave(8, 2)
        .repeat_interleave(8, 3)[:, None]
    )
    x2 = torch.where(pix, torch.randn_like(x) * 10, x)
    assert torch.allclose(mae(x2, mask), ref, atol=1e-5)
    handle.remove()
    loss = mae.loss(x, mask)
    assert torch.isfinite(loss) and loss > 0


def test_all_token_encoding_is_the_same_model():
    mae = MaskedAutoencoder(TINY, num_frames=4)
    x = torch.randn(2, 3, 4, 32, 32)
    mask = random_mask(2, mae.grid_for(x), 0.9)
    assert mae(x, mask, visible_only=False).shape == mae(x, mask).shape


def _moae(**kw):
    torch.manual_seed(0)
    return MoAE(16, experts=4, top_k=2, ratio=0.5, **kw)


def test_moae_top_k_routing():
    m = _moae().train()
    x = torch.randn(50, 16)
    _logits, idx, gates = m.route(x)
    assert idx.shape == (50, 2) and (idx[:, 0] != idx[:, 1]).all()
    assert torch.allclose(gates.sum(-1), torch.ones(50))
    # The output equals the gate-weighted sum of the two chosen experts, computed by hand.
    m.eval()
    _, idx, gates = m.route(x)
    out = m(x[None])[0]
    by_hand = torch.zeros_like(out)
    for t in range(50):
        for s in range(2):
            e = idx[t, s]
            h = torch.nn.functional.gelu(x[t] @ m.w1[e] + m.b1[e]) @ m.w2[e] + m.b2[e]
            by_hand[t] += gates[t, s] * h
    assert torch.allclose(out, by_hand, atol=1e-5)


def test_balance_loss_values():
    m = _moae().eval()
    with torch.no_grad():
        m.router.weight.zero_()
    m(torch.randn(1, 64, 16))
    # Equal probabilities 1/E: the Switch loss is E * sum(f_e / E) = 1 whatever the assignment.
    assert m.balance_loss.item() == pytest.approx(1.0)
    # Routing everything to expert 0 and 1 with high probability costs more.
    with torch.no_grad():
        m.router.weight.zero_()
        m.router.weight[0, 0] = m.router.weight[1, 0] = 50.0
    m(torch.ones(1, 64, 16))
    assert m.balance_loss.item() > 1.9
    logits_form = _moae(balance="logits").eval()
    logits_form(torch.randn(1, 8, 16))
    assert torch.isfinite(logits_form.balance_loss)


def test_moae_eval_determinism_and_paper_noise():
    x = torch.randn(2, 10, 16)
    m = _moae().eval()
    assert torch.equal(m(x), m(x))
    noisy = _moae(noise_at_eval=True).eval()
    assert not torch.equal(noisy(x), noisy(x))
    train = _moae().train()
    assert not torch.equal(train(x), train(x))


def test_capacity_drops_overflow_tokens():
    m = _moae(capacity_factor=1.0).eval()
    with torch.no_grad():  # all tokens prefer experts 0 and 1
        m.router.weight.zero_()
        m.router.weight[0, 0] = m.router.weight[1, 0] = 5.0
    m(torch.ones(1, 40, 16))
    assert m.drop_rate.item() == pytest.approx(0.5)  # capacity 40*2/4 = 20 per expert, 40 wanted
    assert _moae().eval()(torch.ones(1, 40, 16)) is not None and _moae().drop_rate == 0


def test_classifier_heads_and_pretrained_load():
    mae = MaskedAutoencoder(TINY, num_frames=4)
    clf = S4DClassifier(TINY, 4, video_classes=7, image_classes=8)
    fresh = clf.load_pretrained(mae.encoder.state_dict())
    assert fresh and all(".moae." in k for k in fresh)
    assert torch.equal(clf.encoder.blocks[1].mlp.fc1.weight, mae.encoder.blocks[1].mlp.fc1.weight)
    assert clf(torch.randn(2, 3, 4, 32, 32)).shape == (2, 7)
    assert clf(torch.randn(2, 3, 32, 32)).shape == (2, 8)
    assert clf.balance_loss() > 0
    plain = S4DClassifier(TINY.__class__(**{**TINY.__dict__, "moe_experts": 0}), 4, 7)
    assert not plain.encoder.moae_layers and plain.balance_loss() == 0

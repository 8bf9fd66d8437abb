"""ViT-B (the paper's size) in bf16 on a GPU; skipped without CUDA by the root conftest."""

import pytest
import torch

from s4d_fer.config import RunConfig
from s4d_fer.model import MaskedAutoencoder, S4DClassifier, random_mask


@pytest.mark.gpu
def test_base_bf16_forward_backward():
    cfg = RunConfig().replace(**{"model.preset": "base", "data.num_frames": 16}).validate()
    device = torch.device("cuda")
    clf = S4DClassifier(cfg.model, 16, video_classes=7, image_classes=7).to(device)
    assert 85e6 < sum(p.numel() for p in clf.parameters()) < 110e6
    video = torch.randn(2, 3, 16, 160, 160, device=device)
    image = torch.randn(4, 3, 160, 160, device=device)
    with torch.autocast("cuda", dtype=torch.bfloat16):
        logits = clf(video)
        loss = logits.float().logsumexp(-1).mean() + clf(image).float().logsumexp(-1).mean()
        loss = loss + 1e-3 * clf.balance_loss()
    assert logits.dtype == torch.bfloat16 and logits.shape == (2, 7)
    loss.backward()
    assert torch.isfinite(loss)
    assert clf.encoder.blocks[-1].moae.w1.grad is not None

    mae = MaskedAutoencoder(cfg.model, 16).to(device)
    mask = random_mask(2, mae.grid_for(video), 0.95, device=device)
    assert int(mask[0].sum()) == 760
    with torch.autocast("cuda", dtype=torch.bfloat16):
        mae_loss = mae.loss(video, mask)
    mae_loss.backward()
    assert torch.isfinite(mae_loss)

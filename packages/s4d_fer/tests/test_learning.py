"""Learning checks: the tiny model fits a 32-sample subset to near-zero training loss.

From scratch and from a (briefly) MAE-pre-trained encoder, for clips and for images.
The data come from the real loaders over a small synthetic benchmark, so a label
misalignment between files and loss, a dead gradient path (heads, MoAE adapters,
layer-wise LR decay) or a broken schedule would show here as a loss stuck near ln 7.
"""

from __future__ import annotations

import dataclasses
import math
import warnings

import pytest
import torch

from s4d_fer.config import RunConfig, SynthConfig
from s4d_fer.data import build_dataset
from s4d_fer.synth import write_synth
from s4d_fer.train.modules import FinetuneModule, PretrainModule, soft_cross_entropy

N = 32  # samples to fit
FRAMES = 4  # frames per clip (2 tubelets -> 128 tokens with the tiny model at 64 px)


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    out = tmp_path_factory.mktemp("learn") / "bench"
    write_synth(out, SynthConfig(n_images=64, n_clips=48, frames=8, size=64), log=lambda m: None)
    opts = dict(img_size=64, num_frames=FRAMES, sampling_rate=2, test_clips=1, train=False)
    clips = build_dataset("dfew", out / "DFEW", "train", 1, **opts)
    images = build_dataset("affectnet", out / "AffectNet", "train", **opts)

    def stack(ds):
        xs, ys = zip(*(ds[i] for i in range(N)), strict=True)
        return torch.stack(xs), torch.tensor(ys)

    return {"video": stack(clips), "image": stack(images)}


def _cfg(lr: float) -> RunConfig:
    cfg = RunConfig()  # the tiny model preset
    return dataclasses.replace(
        cfg,
        data=dataclasses.replace(cfg.data, num_frames=FRAMES),
        finetune=dataclasses.replace(
            cfg.finetune, lr=lr, layer_decay=1.0, label_smoothing=0.0, warmup_epochs=0
        ),
    )


def _pretrain(cfg: RunConfig, bench, steps: int = 6) -> dict:
    """A few dual-modal MAE steps (alternating clips and images); the encoder weights."""
    module = PretrainModule(cfg, total_steps=steps)
    opt = module.configure_optimizers()["optimizer"]
    for step in range(steps):
        kind = "video" if step % 2 == 0 else "image"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # self.log() outside a Trainer
            loss = module.training_step((kind, bench[kind]), step)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert torch.isfinite(loss)
    return module.model.encoder.state_dict()


def _fit(kind: str, bench, encoder: dict | None, steps: int, lr: float = 1e-3, n: int = N):
    """Full-batch fine-tuning through FinetuneModule on the first ``n`` samples;
    returns (eval-mode loss, accuracy, first training loss)."""
    torch.manual_seed(0)
    cfg = _cfg(lr)
    x, y = (t[:n] for t in bench[kind])
    module = FinetuneModule(cfg, 7, 7, total_steps=steps, warmup_steps=max(1, steps // 10))
    if encoder is not None:
        fresh = module.model.load_pretrained(encoder)
        assert fresh and all("moae" in k for k in fresh)
    sched = module.configure_optimizers()
    opt, lr_sched = sched["optimizer"], sched["lr_scheduler"]["scheduler"]
    first = None
    for step in range(steps):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            loss = module.training_step((kind, (x, y)), step)
        first = float(loss.detach()) if first is None else first
        opt.zero_grad()
        loss.backward()
        if step == 0:  # every trainable tensor of the used path gets a gradient
            other = "image" if kind == "video" else "video"
            dead = [
                n
                for n, p in module.model.named_parameters()
                if not n.startswith(f"heads.{other}") and (p.grad is None or not p.grad.any())
            ]
            assert not dead, dead
        opt.step()
        lr_sched.step()
    module.eval()
    with torch.no_grad():
        logits = module.model(x)
    loss = float(soft_cross_entropy(logits, torch.eye(7)[y]))
    return loss, float((logits.argmax(-1) == y).float().mean()), first


def test_images_overfit_fast(bench):
    """The quick check (not slow): 16 images, from scratch."""
    loss, acc, first = _fit("image", bench, None, steps=40, n=16)
    assert first > 0.8 * math.log(7)
    assert loss < 0.1 and acc == 1.0, (loss, acc)


@pytest.mark.slow
def test_images_overfit_from_scratch(bench):
    loss, acc, first = _fit("image", bench, None, steps=60)
    assert first > 0.8 * math.log(7)
    assert loss < 0.1 and acc == 1.0, (loss, acc)


@pytest.mark.slow
def test_clips_overfit_from_scratch(bench):
    loss, acc, _ = _fit("video", bench, None, steps=60)
    assert loss < 0.1 and acc == 1.0, (loss, acc)


@pytest.mark.slow
def test_clips_overfit_from_mae_encoder(bench):
    encoder = _pretrain(_cfg(1e-3), bench)
    loss, acc, _ = _fit("video", bench, encoder, steps=60)
    assert loss < 0.1 and acc == 1.0, (loss, acc)


@pytest.mark.slow
def test_images_overfit_from_mae_encoder(bench):
    encoder = _pretrain(_cfg(1e-3), bench)
    loss, acc, _ = _fit("image", bench, encoder, steps=60)
    assert loss < 0.1 and acc == 1.0, (loss, acc)

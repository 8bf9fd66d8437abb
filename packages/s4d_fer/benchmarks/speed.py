"""Speed benchmark, ratios measured within one run.

1. MAE pre-training step (forward + backward + AdamW) with the encoder on visible tokens
   only vs the same model encoding all tokens (masked ones as a learnable token), at 90%
   masking; the two variants alternate step by step so machine load hits both alike.
2. Fine-tuning on the synthetic benchmark through the real loaders: the fraction of step
   time spent waiting for data with the default workers, training clips/s, peak memory.

    uv run --package s4d_fer python packages/s4d_fer/benchmarks/speed.py            # tiny, CPU
    uv run --package s4d_fer python packages/s4d_fer/benchmarks/speed.py --model base --device cuda
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import torch

from s4d_fer.config import preset
from s4d_fer.data import build_dataset
from s4d_fer.model import MaskedAutoencoder, S4DClassifier, random_mask
from s4d_fer.synth import write_synth
from s4d_fer.train.loaders import make_loader


def peak_memory_mb(device: torch.device) -> float:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def mae_ratio(cfg, device, batch: int, steps: int, dtype) -> None:
    torch.manual_seed(0)
    model = MaskedAutoencoder(cfg.model, cfg.data.num_frames).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(
        batch, 3, cfg.data.num_frames, cfg.model.img_size, cfg.model.img_size, device=device
    )
    mask = random_mask(batch, model.grid_for(x), 0.9, device=device)
    times = {True: [], False: []}
    for i in range(2 * (steps + 1)):
        visible_only = i % 2 == 0
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            loss = model.loss(x, mask, visible_only=visible_only)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= 2:  # the first pair warms up
            times[visible_only].append(time.perf_counter() - start)
    vis = sorted(times[True])[len(times[True]) // 2]
    full = sorted(times[False])[len(times[False]) // 2]
    n = mask.shape[1]
    print(
        f"MAE step, {batch} clips x {n} tokens, 90% masked ({n - int(mask[0].sum())} visible), median of {steps}:"
    )
    print(
        f"  visible-only encoder {vis * 1e3:8.1f} ms | all-token encoder {full * 1e3:8.1f} ms | speed-up {full / vis:.2f}x"
    )


def finetune_loop(cfg, device, steps: int, dtype) -> None:
    root = Path(cfg.data.root)
    if not root.exists():
        tmp = Path(tempfile.mkdtemp()) / "synth"
        write_synth(tmp, preset("smoke").synth, log=print)
        root = tmp / "DFEW"
    opts = dict(
        img_size=cfg.model.img_size,
        num_frames=cfg.data.num_frames,
        sampling_rate=cfg.data.sampling_rate,
    )
    ds = build_dataset("dfew", root, "train", 1, train=True, **opts)
    loader = make_loader(
        ds, cfg.finetune.video_batch, train=True, workers=cfg.data.num_workers, seed=0
    )
    model = S4DClassifier(cfg.model, cfg.data.num_frames, 7).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    it = iter(loader)
    wait = compute = 0.0
    clips = 0
    for i in range(steps + 2):
        t0 = time.perf_counter()
        try:
            x, y = next(it)
        except StopIteration:
            it = iter(loader)
            x, y = next(it)
        t1 = time.perf_counter()
        x, y = x.to(device, non_blocking=True), y.to(device)
        with torch.autocast(device.type, dtype=dtype, enabled=dtype != torch.float32):
            loss = torch.nn.functional.cross_entropy(
                model(x).float(), y
            ) + 1e-3 * model.balance_loss().to(device)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        t2 = time.perf_counter()
        if i >= 2:  # skip worker start-up
            wait += t1 - t0
            compute += t2 - t1
            clips += x.shape[0]
    total = wait + compute
    print(
        f"fine-tuning, {cfg.data.num_workers} workers, batch {cfg.finetune.video_batch} x {cfg.data.num_frames} frames, {steps} steps:"
    )
    print(
        f"  data wait {100 * wait / total:.1f}% of step time | {clips / total:.1f} clips/s | peak memory {peak_memory_mb(device):.0f} MiB"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="tiny", choices=["tiny", "base"])
    p.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    p.add_argument("--steps", type=int, default=6)
    p.add_argument("--batch", type=int, default=8, help="clips per MAE step")
    args = p.parse_args()
    cfg = preset("default")
    if args.model == "base":
        cfg = cfg.replace(
            **{"model.preset": "base", "data.num_frames": 16, "data.sampling_rate": 1}
        ).validate()
    device = torch.device(args.device)
    dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
    print(f"model {args.model} on {device} ({dtype}), torch threads {torch.get_num_threads()}")
    mae_ratio(cfg, device, args.batch, args.steps, dtype)
    finetune_loop(cfg, device, args.steps * 2, dtype)


if __name__ == "__main__":
    main()

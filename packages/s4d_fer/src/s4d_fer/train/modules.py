"""Lightning modules: dual-modal MAE pre-training and multi-task (MoAE) fine-tuning."""

from __future__ import annotations

import numpy as np
import pytorch_lightning as pl
import torch
import torch.nn.functional as F

from labcore.metrics import uar, war
from s4d_fer.config import RunConfig
from s4d_fer.model import MaskedAutoencoder, S4DClassifier, random_mask
from s4d_fer.train.mixup import mix_batch
from s4d_fer.train.optim import make_optimizer


class PretrainModule(pl.LightningModule):
    """Each training batch is ``(kind, (x, labels))``; labels are ignored."""

    def __init__(self, cfg: RunConfig, total_steps: int):
        super().__init__()
        self.cfg, self.total_steps = cfg, total_steps
        self.model = MaskedAutoencoder(cfg.model, cfg.data.num_frames)

    def training_step(self, batch, batch_idx):
        kind, (x, _) = batch
        p = self.cfg.pretrain
        ratio = p.image_mask if kind == "image" else p.video_mask
        mask = random_mask(
            x.shape[0],
            self.model.grid_for(x),
            ratio,
            p.tube_mask and kind == "video",
            device=x.device,
        )
        loss = self.model.loss(x, mask, norm_pix=p.norm_pix_loss)
        self.log(f"train/loss_{kind}", loss, prog_bar=True, batch_size=x.shape[0])
        return loss

    def configure_optimizers(self):
        p = self.cfg.pretrain
        warmup = int(p.warmup_fraction * self.total_steps)
        return make_optimizer(
            self.model, p.lr, p.weight_decay, (0.9, 0.95), self.total_steps, warmup
        )


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return torch.sum(-target * F.log_softmax(logits.float(), dim=-1), dim=-1).mean()


def predict_views(model: S4DClassifier, x: torch.Tensor) -> torch.Tensor:
    """Softmax probabilities; (B,V,3,T,H,W) inputs are averaged over their V views."""
    if x.dim() == 6:
        b, v = x.shape[:2]
        probs = model(x.flatten(0, 1)).float().softmax(-1)
        return probs.view(b, v, -1).mean(1)
    return model(x).float().softmax(-1)


class FinetuneModule(pl.LightningModule):
    """Video (+ image) classification with label smoothing, optional mixup/cutmix and MoAE balance loss."""

    def __init__(
        self,
        cfg: RunConfig,
        video_classes: int,
        image_classes: int,
        total_steps: int,
        warmup_steps: int,
    ):
        super().__init__()
        self.cfg, self.total_steps, self.warmup_steps = cfg, total_steps, warmup_steps
        self.model = S4DClassifier(cfg.model, cfg.data.num_frames, video_classes, image_classes)
        self.n_classes = {"video": video_classes, "image": image_classes}
        self._val: list[tuple[np.ndarray, np.ndarray]] = []

    def training_step(self, batch, batch_idx):
        kind, (x, y) = batch
        f = self.cfg.finetune
        n = self.n_classes[kind]
        target = F.one_hot(y, n).float() * (1 - f.label_smoothing) + f.label_smoothing / n
        x, target = mix_batch(x, target, f.mixup, f.cutmix)
        logits = self.model(x)
        loss = soft_cross_entropy(logits, target)
        balance = self.model.balance_loss().to(loss.device)
        total = loss + self.cfg.model.moe_balance_weight * balance
        bs = x.shape[0]
        self.log(f"train/loss_{kind}", loss, prog_bar=True, batch_size=bs)
        if self.model.encoder.moae_layers:
            self.log("train/balance", balance, batch_size=bs)
            self.log("train/moae_drop_rate", self.model.drop_rate(), batch_size=bs)
        return total

    def validation_step(self, batch, batch_idx):
        x, y = batch
        probs = predict_views(self.model, x)
        self._val.append((probs.argmax(-1).cpu().numpy(), y.cpu().numpy()))

    def on_validation_epoch_end(self):
        if not self._val:
            return
        pred = np.concatenate([p for p, _ in self._val])
        true = np.concatenate([t for _, t in self._val])
        self._val.clear()
        if self.trainer.world_size > 1:  # gather predictions from every rank
            gathered = self.all_gather(torch.as_tensor(np.stack([pred, true])))
            pred, true = (
                gathered[..., 0, :].flatten().cpu().numpy(),
                gathered[..., 1, :].flatten().cpu().numpy(),
            )
        self.log("val/war", war(true, pred), prog_bar=True, sync_dist=False)
        self.log(
            "val/uar", uar(true, pred, self.n_classes["video"]), prog_bar=True, sync_dist=False
        )

    def configure_optimizers(self):
        f = self.cfg.finetune
        return make_optimizer(
            self.model,
            f.lr,
            f.weight_decay,
            (0.9, 0.999),
            self.total_steps,
            self.warmup_steps,
            layer_decay=f.layer_decay,
            depth=self.cfg.model.depth,
        )

"""Run-folder logging for Lightning stages: metrics.csv rows, one progress line per epoch, plots.

Lightning's progress bar only draws on a terminal; the line printed per epoch through
``RunDir.print`` (stderr + ``log.txt``) shows progress in CI logs, ``nohup`` and pipes too.
"""

from __future__ import annotations

import math
import time

from labcore.rundir import RunDir


def _float(value) -> float | None:
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    return x if math.isfinite(x) else None


def run_logger(run: RunDir, stage: str, epochs: int):
    """A Lightning callback writing ``run.log`` rows and a per-epoch ``run.print`` line."""
    import pytorch_lightning as pl

    class RunLogger(pl.Callback):
        def __init__(self) -> None:
            self.sums: dict[str, list[float]] = {}
            self.start = time.perf_counter()

        def on_train_epoch_start(self, trainer, module) -> None:
            self.sums = {}
            self.start = time.perf_counter()

        def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
            kind = batch[0] if isinstance(batch, tuple | list) and isinstance(batch[0], str) else ""
            metrics = trainer.callback_metrics
            value = _float(metrics.get(f"train/loss_{kind}"))
            if value is None and outputs is not None:
                loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
                value = _float(loss.detach()) if loss is not None else None
            if value is not None:
                self.sums.setdefault(f"loss_{kind}" if kind else "loss", []).append(value)
            step = trainer.global_step
            if step % max(1, trainer.log_every_n_steps) == 0:
                row = {k: _float(v) for k, v in metrics.items() if k.startswith("train/")}
                lrs = [g["lr"] for opt in trainer.optimizers for g in opt.param_groups]
                run.log(
                    step,
                    epoch=trainer.current_epoch,
                    lr=max(lrs) if lrs else None,
                    **{k: v for k, v in row.items() if v is not None},
                )

        def on_train_epoch_end(self, trainer, module) -> None:
            # Validation has run by now (its metrics are in callback_metrics).
            val = {
                k: _float(v) for k, v in trainer.callback_metrics.items() if k.startswith("val/")
            }
            val = {k: v for k, v in val.items() if v is not None}
            if val:
                run.log(trainer.global_step, epoch=trainer.current_epoch, **val)
            parts = [f"{k} {sum(v) / len(v):.3f}" for k, v in sorted(self.sums.items()) if v]
            war = _float(trainer.callback_metrics.get("val/war"))
            if war is not None:
                parts.append(f"val WAR {100 * war:.1f}%")
            run.print(
                f"{stage} epoch {trainer.current_epoch + 1}/{epochs}: "
                + ", ".join(parts)
                + f" (step {trainer.global_step}, {time.perf_counter() - self.start:.1f} s)"
            )

    return RunLogger()


def plot_history(run: RunDir, title: str) -> None:
    """``plots/loss.png`` (training losses by step) and ``plots/val.png`` (validation WAR/UAR)."""
    from labcore.plots import plot_curves

    rows = run.history()
    for name, prefix, ylabel in (("loss", "train/loss", "loss"), ("val", "val/", "score")):
        keys = sorted({k for r in rows for k in r if k.startswith(prefix)})
        curves = {
            k.split("/", 1)[1]: (
                [r["step"] for r in rows if k in r],
                [r[k] for r in rows if k in r],
            )
            for k in keys
        }
        if curves:
            plot_curves(
                run.plots / f"{name}.png", curves, xlabel="step", ylabel=ylabel, title=title
            )

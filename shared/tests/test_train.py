import pytorch_lightning as pl
import torch
from torch.utils.data import DataLoader, TensorDataset

from labcore.train import (
    RunDir,
    last_checkpoint,
    load_checkpoint,
    make_trainer,
    save_checkpoint,
    seed_everything,
    select_device,
)


class TinyRegressor(pl.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(4, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x), y)
        self.log("train_loss", loss)
        return loss

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def _loader():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(64, 4, generator=g)
    return DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=8)


def test_seed_everything_is_reproducible():
    seed_everything(3)
    a = torch.randn(5)
    seed_everything(3)
    assert torch.equal(a, torch.randn(5))


def test_select_device_defaults_to_cpu_without_cuda():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert select_device().type == expected
    assert select_device("cpu").type == "cpu"


def test_trainer_writes_logs_checkpoints_and_resumes(tmp_path):
    run = RunDir.open(tmp_path / "fit", package="demo", command="fit", config={})
    seed_everything(0)
    trainer = make_trainer(
        run, max_steps=5, accelerator="cpu", log_every_n_steps=1, progress_bar=False
    )
    trainer.fit(TinyRegressor(), _loader())
    ckpt = last_checkpoint(run)
    assert ckpt is not None and ckpt.name == "last.ckpt"
    assert (run.path / "logs" / "version_0" / "metrics.csv").is_file()
    assert trainer.precision == "32-true"

    # Resuming from last.ckpt continues the step count instead of starting over.
    resumed = make_trainer(run, max_steps=8, accelerator="cpu", progress_bar=False)
    resumed.fit(TinyRegressor(), _loader(), ckpt_path=ckpt)
    assert resumed.global_step == 8
    # ...and keeps the first attempt's logs.
    assert (run.path / "logs" / "version_0" / "metrics.csv").is_file()
    assert (run.path / "logs" / "version_1").is_dir()


def test_plain_checkpoint_round_trip(tmp_path):
    path = save_checkpoint(tmp_path / "ckpt" / "state.pt", {"step": 7, "w": torch.ones(2)})
    state = load_checkpoint(path)
    assert state["step"] == 7 and torch.equal(state["w"], torch.ones(2))
    assert sorted(p.name for p in path.parent.iterdir()) == ["state.pt"]

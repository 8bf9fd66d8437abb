"""A pre-train and a fine-tune step, the whole pipeline on micro data (run folders), predict, resume."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from labcore.errors import DataError
from labcore.rundir import RunDir
from s4d_fer.config import preset
from s4d_fer.eval.predict import predict
from s4d_fer.report import report
from s4d_fer.train import modules
from s4d_fer.train.modules import FinetuneModule, PretrainModule
from s4d_fer.train.pipeline import run_pipeline


def test_pretrain_and_finetune_steps_on_tiny():
    cfg = preset("default").validate()  # the real tiny preset
    torch.manual_seed(0)
    pre = PretrainModule(cfg, total_steps=10)
    opt = pre.configure_optimizers()["optimizer"]
    video = torch.randn(2, 3, cfg.data.num_frames, 64, 64)
    before = pre.model.encoder.blocks[0].mlp.fc1.weight.clone()
    for kind, x in (("video", video), ("image", torch.randn(2, 3, 64, 64))):
        loss = pre.training_step((kind, (x, torch.zeros(2, dtype=torch.long))), 0)
        assert torch.isfinite(loss)
        opt.zero_grad()
        loss.backward()
        opt.step()
    assert not torch.equal(before, pre.model.encoder.blocks[0].mlp.fc1.weight)

    ft = FinetuneModule(cfg, video_classes=7, image_classes=7, total_steps=10, warmup_steps=1)
    fresh = ft.model.load_pretrained(pre.model.encoder.state_dict())
    assert all("moae" in k for k in fresh)
    opt = ft.configure_optimizers()["optimizer"]
    loss = ft.training_step(("video", (video, torch.tensor([0, 3]))), 0)
    loss.backward()
    assert all(p.grad is not None for n, p in ft.model.named_parameters() if "heads.image" not in n)
    opt.step()
    assert torch.isfinite(loss)


def test_pipeline_writes_run_folders_and_predict_works(micro_cfg, tmp_path):
    run = tmp_path / "run"
    metrics = run_pipeline(micro_cfg, run)
    assert 0 <= metrics["war"] <= 1 and 0 <= metrics["uar"] <= 1 and metrics["n_test"] == 7
    assert set(metrics["per_class_recall"]) == {
        "happy",
        "sad",
        "neutral",
        "angry",
        "surprise",
        "disgust",
        "fear",
    }
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["war"] == metrics["war"] and saved["image"]["n"] == 21
    assert set(saved["stage_seconds"]) == {"pretrain", "finetune", "test"}
    assert json.loads((run / "config.json").read_text())["model"]["embed_dim"] == 32
    assert json.loads((run / "run.json").read_text())["status"] == "finished"
    assert (run / "plots/per_class_recall.png").is_file() and (run / "log.txt").is_file()
    for stage, product in (("pretrain", "encoder.pt"), ("finetune", "model.pt")):
        folder = run / stage
        assert (folder / product).is_file() and (folder / "plots/loss.png").is_file()
        assert json.loads((folder / "run.json").read_text())["status"] == "finished"
        rows = RunDir(folder).history()
        assert rows and all("step" in r for r in rows)
        # one progress line per epoch in log.txt, whatever the terminal
        assert f"{stage} epoch 1/1:" in (folder / "log.txt").read_text()
    rows = RunDir(run / "finetune").history()
    assert any("val/war" in r for r in rows) and any("train/loss_video" in r for r in rows)
    assert list((run / "finetune").glob("logs/version_*/metrics.csv"))

    ckpt = run / "finetune/model.pt"
    frames = Path(micro_cfg.data.root) / "Clip/jpg_256/00001"
    out = predict(frames, ckpt)
    assert out["task"] == "video" and abs(sum(out["probabilities"].values()) - 1) < 1e-4
    image = Path(micro_cfg.data.image_root) / "Manually_Annotated_Images/000/face_000000.jpg"
    out = predict(image, ckpt)
    assert out["task"] == "image" and out["prediction"] in out["probabilities"]
    video = tmp_path / "clip.mp4"
    _write_mp4(sorted(frames.iterdir()), video)
    assert predict(video, ckpt)["task"] == "video"
    # Deterministic at eval: same input, same probabilities.
    assert predict(video, ckpt) == predict(video, ckpt)

    # Running the same command again skips the finished run.
    before = (run / "metrics.json").read_text()
    again = run_pipeline(micro_cfg, run)
    assert again["war"] == metrics["war"] and (run / "metrics.json").read_text() == before
    # The report reads it.
    table = report([run])
    assert "video WAR (%)" in table and f"{100 * metrics['war']:.2f}".rstrip("0") in table


def _write_mp4(frames, path):
    import av
    from PIL import Image

    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=10)
        stream.width = stream.height = 32
        stream.pix_fmt = "yuv420p"
        for f in frames:
            arr = np.asarray(Image.open(f).convert("RGB"))
            out.mux(stream.encode(av.VideoFrame.from_ndarray(arr, format="rgb24")))
        out.mux(stream.encode())


class _Killed(RuntimeError):
    pass


def test_killed_run_resumes_from_last_checkpoint(micro_cfg, monkeypatch, tmp_path):
    cfg = micro_cfg.replace(
        **{
            "pretrain.epochs": 2,
            "checkpoint_every_n_steps": 2,
            "finetune.tasks": "video",
            "pretrain.modalities": "video",
        }
    )
    original = PretrainModule.training_step
    calls = []

    def dying(self, batch, idx):
        calls.append(self.global_step)
        if self.global_step == 5:
            raise _Killed("simulated kill")
        return original(self, batch, idx)

    monkeypatch.setattr(PretrainModule, "training_step", dying)
    with pytest.raises(_Killed):
        run_pipeline(cfg, tmp_path / "run", stage="pretrain")
    assert (tmp_path / "run" / "pretrain/checkpoints/last.ckpt").is_file()
    assert not (tmp_path / "run" / "pretrain/encoder.pt").exists()  # nothing half-finished

    calls.clear()
    monkeypatch.setattr(
        PretrainModule,
        "training_step",
        lambda s, b, i: (calls.append(s.global_step), original(s, b, i))[1],
    )
    run_pipeline(cfg, tmp_path / "run", stage="pretrain")
    assert calls and calls[0] == 4  # restarted from the step-4 checkpoint, not from 0
    assert (tmp_path / "run" / "pretrain/encoder.pt").is_file()
    assert json.loads((tmp_path / "run" / "pretrain/metrics.json").read_text())["steps"] == 6


def test_stage_test_needs_a_model(micro_cfg, tmp_path):
    with pytest.raises(DataError, match="run --stage finetune first"):
        run_pipeline(micro_cfg, tmp_path / "never_ran", stage="test")
    assert not (tmp_path / "never_ran").exists()
    assert modules.soft_cross_entropy(
        torch.zeros(1, 3), torch.tensor([[1.0, 0, 0]])
    ).item() == pytest.approx(np.log(3))


def test_folds_aggregate_mean_and_std(micro_yaml, tmp_path, capsys):
    from s4d_fer.cli import train_main
    from s4d_fer.train.folds import parse_folds

    assert parse_folds("all") == [1, 2, 3, 4, 5]
    with pytest.raises(DataError, match=r"folds are 1..5"):
        parse_folds("0,6")
    out = tmp_path / "folds"
    argv = ["--config", str(micro_yaml), "--pretrain.modalities", "none"]
    argv += ["--finetune.tasks", "video", "--folds", "1,2", "--out", str(out)]
    assert train_main(argv) == 0
    assert "| mean ± std |" in capsys.readouterr().out
    summary = json.loads((out / "metrics.json").read_text())
    wars = [summary["folds"][k]["war"] for k in ("1", "2")]
    assert summary["war"] == pytest.approx(sum(wars) / 2)
    fold2 = json.loads((out / "fold2/config.json").read_text())
    assert fold2["data"]["fold"] == 2 and (out / "fold2/metrics.json").is_file()
    assert json.loads((out / "run.json").read_text())["command"] == "folds"

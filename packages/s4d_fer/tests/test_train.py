"""A pre-train and a fine-tune step, the whole pipeline on micro data, predict, resume, CLI errors."""

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from s4d_fer.cli import main, train_main
from s4d_fer.config import preset
from s4d_fer.predict import predict
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


def test_pipeline_writes_metrics_and_predict_works(micro_cfg, tmp_path):
    metrics = run_pipeline(micro_cfg)
    run = micro_cfg.run_dir
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
    assert json.loads((run / "config.json").read_text())["model"]["embed_dim"] == 32
    assert (run / "pretrain/encoder.pt").is_file() and (run / "finetune/model.pt").is_file()
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

    # Running the same command again reuses every finished stage.
    again = run_pipeline(micro_cfg)
    assert again["war"] == metrics["war"]


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


def test_killed_run_resumes_from_last_checkpoint(micro_cfg, monkeypatch):
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
        run_pipeline(cfg, stage="pretrain")
    assert (cfg.run_dir / "pretrain/checkpoints/last.ckpt").is_file()
    assert not (cfg.run_dir / "pretrain/encoder.pt").exists()  # nothing half-finished

    calls.clear()
    monkeypatch.setattr(
        PretrainModule,
        "training_step",
        lambda s, b, i: (calls.append(s.global_step), original(s, b, i))[1],
    )
    run_pipeline(cfg, stage="pretrain")
    assert calls and calls[0] == 4  # restarted from the step-4 checkpoint, not from 0
    assert (cfg.run_dir / "pretrain/encoder.pt").is_file()
    assert json.loads((cfg.run_dir / "pretrain/metrics.json").read_text())["steps"] == 6


def test_cli_bad_input_is_one_line_exit_2(capsys, micro_cfg, tmp_path):
    for argv, message in (
        (["--data.nope", "1"], "unknown option 'data.nope'"),
        (["--model.depth", "two"], "model.depth expects a number"),
        (["--finetune.select_on", "best"], "finetune.select_on must be one of"),
        (
            [
                "--data.root",
                str(tmp_path / "missing"),
                "--data.synth_root",
                str(tmp_path / "s"),
                "--runs_root",
                str(tmp_path),
            ],
            "dataset root",
        ),
        (["--config", str(tmp_path / "none.yaml")], "--config"),
    ):
        with pytest.raises(SystemExit) as exc:
            train_main(argv)
        assert exc.value.code == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and message in err and "\n" not in err
    with pytest.raises(SystemExit) as exc:
        main(["predict", str(tmp_path / "x.mp4"), "--checkpoint", str(tmp_path / "nope.pt")])
    assert exc.value.code == 2


def test_config_file_and_overrides(tmp_path, capsys):
    cfg_file = tmp_path / "run.yaml"
    cfg_file.write_text(
        "model:\n  preset: base\ndata:\n  dataset: mafw\n  fold: 3\nfinetune.epochs: 7\n"
    )
    assert train_main(["--config", str(cfg_file), "--data.root=/data/MAFW", "--print-config"]) == 0
    resolved = json.loads(capsys.readouterr().out)
    assert resolved["model"]["embed_dim"] == 768 and resolved["data"]["dataset"] == "mafw"
    assert resolved["data"]["fold"] == 3 and resolved["finetune"]["epochs"] == 7
    assert resolved["data"]["root"] == "/data/MAFW"


def test_stage_test_needs_a_model(micro_cfg, tmp_path):
    shutil.rmtree(micro_cfg.run_dir, ignore_errors=True)
    with pytest.raises(Exception, match="run --stage finetune first"):
        run_pipeline(micro_cfg, stage="test")
    assert modules.soft_cross_entropy(
        torch.zeros(1, 3), torch.tensor([[1.0, 0, 0]])
    ).item() == pytest.approx(np.log(3))


def test_folds_aggregate_mean_and_std(micro_cfg):
    from s4d_fer.folds import parse_folds, run_folds

    assert parse_folds("all") == [1, 2, 3, 4, 5]
    with pytest.raises(Exception, match=r"folds are 1..5"):
        parse_folds("0,6")
    cfg = micro_cfg.replace(**{"pretrain.modalities": "none", "finetune.tasks": "video"})
    summary = run_folds(cfg, [1, 2])
    wars = [summary["folds"][k]["war"] for k in (1, 2)]
    assert summary["war"] == pytest.approx(sum(wars) / 2)
    assert (cfg.run_dir / "folds.json").is_file() and (cfg.run_dir / "fold2/metrics.json").is_file()

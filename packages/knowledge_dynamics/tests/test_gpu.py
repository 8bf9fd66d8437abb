import pytest

from knowledge_dynamics.eval.analyze import analyze
from knowledge_dynamics.eval.probe_log import read_probe_log
from knowledge_dynamics.train.runner import run_inject


@pytest.mark.gpu
def test_smollm2_continued_pretraining_on_cuda(micro_cfg, tmp_path):
    """The bundled SmolLM2 through the same pipeline (constant LR, no optimizer state)."""
    cfg = micro_cfg.replace(**{"model.preset": "smollm2", "inject.lr": 1e-4})
    run = run_inject(cfg, "smollm2", tmp_path / "run", device="cuda").path
    log = read_probe_log(run)
    assert log["target"].shape[1] == 6 * 15
    metrics = analyze(run, cfg.analysis)
    assert metrics["effectivity"]["duplicate"]["memorization"] is not None


@pytest.mark.gpu
def test_bf16_autocast_injection_on_cuda(micro_cfg, micro_stages, tmp_path):
    """bf16 autocast of training and probe forward passes: the run finishes with finite logs."""
    import numpy as np

    cfg = micro_cfg.replace(**{"inject.precision": "bf16"})
    run = run_inject(cfg, str(micro_stages["mid"]), tmp_path / "bf16", device="cuda").path
    log = read_probe_log(run)
    assert np.isfinite(log["target"]).all()
    assert log["target"][0].tolist() != log["target"][-1].tolist()


def test_bf16_is_refused_on_cpu(micro_cfg, micro_stages, tmp_path):
    from labcore.errors import DataError

    cfg = micro_cfg.replace(**{"inject.precision": "bf16"})
    with pytest.raises(DataError, match=r"inject\.precision=bf16 needs a CUDA device"):
        run_inject(cfg, str(micro_stages["mid"]), tmp_path / "cpu", device="cpu")
    assert not (tmp_path / "cpu").exists()

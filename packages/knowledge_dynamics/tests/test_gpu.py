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

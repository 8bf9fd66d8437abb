"""``torchrun`` with 2 CPU processes (gloo): the update equals the single-process one."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

WORKER = textwrap.dedent(
    """
    import sys

    import numpy as np
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from knowledge_dynamics.train.step import dist_info, local_rank, train_step


    def model():
        torch.manual_seed(0)
        return LlamaForCausalLM(LlamaConfig(
            vocab_size=50, hidden_size=16, intermediate_size=32, num_hidden_layers=1,
            num_attention_heads=2, num_key_value_heads=2))


    def updates(rank, world):
        torch.set_num_threads(1)
        m = model()
        opt = torch.optim.AdamW(m.parameters(), lr=1e-2, betas=(0.9, 0.95), weight_decay=0.1)
        batch = np.random.default_rng(0).integers(0, 50, (5, 12))  # 5 rows: shards of 3 and 2
        losses = [train_step(m, opt, batch, 1e-2, 1.0, rank, world) for _ in range(3)]
        return m.state_dict(), losses


    if __name__ == "__main__":
        rank, world = dist_info("cpu")
        assert local_rank() == rank and world == 2
        state, losses = updates(rank, world)
        if rank == 0:
            torch.save({"state": state, "losses": losses}, sys.argv[1])
        torch.distributed.destroy_process_group()
    """
)


@pytest.mark.slow
def test_two_process_gloo_update_equals_single_process(tmp_path, monkeypatch):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    out = tmp_path / "ddp.pt"
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    proc = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
         str(script), str(out)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    ddp = torch.load(out)
    sys.path.insert(0, str(tmp_path))
    try:
        import worker
    finally:
        sys.path.remove(str(tmp_path))
    state, losses = worker.updates(0, 1)
    np.testing.assert_allclose(ddp["losses"], losses, rtol=1e-5)
    for name, value in state.items():
        torch.testing.assert_close(ddp["state"][name], value, atol=1e-6, rtol=1e-5)

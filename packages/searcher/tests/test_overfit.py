"""The SFT policy learns: a tiny causal LM fits one expert conversation to near-zero loss on the
assistant tokens, through the package's own SFT loop (turn-by-turn tokenisation, label mask)."""

from __future__ import annotations

import pytest

from labcore.io import write_jsonl
from searcher.config import SFTConfig
from searcher.train.sft import run_sft


def test_sft_overfits_one_conversation(tiny_model, tokenizer, bench, tmp_path):
    from labcore.io import read_jsonl

    rows = read_jsonl(bench / "coldstart.jsonl")
    one = min(rows, key=lambda r: sum(len(m["content"]) for m in r["messages"]))
    write_jsonl(tmp_path / "one.jsonl", [one])
    losses = []
    run_sft(
        tiny_model,
        tokenizer,
        tmp_path / "one.jsonl",
        tmp_path / "sft",
        SFTConfig(epochs=60, batch_size=1, lr=1e-2, warmup_steps=2, save_every=1000),
        log=lambda m: None,
        on_step=lambda step, loss, lr: losses.append(loss),
    )
    assert losses[0] > 5.0  # a random model: about log(vocabulary)
    assert losses[-1] < 0.05, losses[-10:]


@pytest.mark.slow
def test_train_command_end_to_end(tiny_model, tmp_path, capsys, tiny_world):
    """`searcher train` with a tiny model: every stage, the run folder contract and `report`."""
    import csv
    import json

    from searcher.cli import main

    out = tmp_path / "run"
    argv = ["train", "--preset", "smoke", "--out", str(out), "--device", "cpu"]
    argv += ["--model", str(tmp_path / "tiny-llama"), "--sft.max_examples", "2"]
    argv += ["--agent.max_new_tokens", "8", "--eval_closed", "2", "--eval_open", "1"]
    # A random model never scores, so no question would pass the curriculum screen.
    argv += ["--grpo.curriculum", "false"]
    argv += [f"--synth.{k}={v}" for k, v in tiny_world.items()]
    assert main(argv) == 0, capsys.readouterr().err
    for name in ("run.json", "config.json", "metrics.json", "metrics.csv", "log.txt"):
        assert (out / name).is_file(), name
    assert (out / "data" / "manifest.json").is_file()
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) >= {"base", "sft", "grpo"}
    with open(out / "metrics.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["stage"] for r in rows].count("sft") == 1  # 2 conversations, batch 2
    grpo = [r for r in rows if r["stage"] == "grpo"]
    assert grpo and grpo[0]["grpo/loss"] != "" and "grpo/reward" in grpo[0]
    assert {p.name for p in (out / "plots").iterdir()} >= {"sft_loss.png", "grpo_reward.png"}
    capsys.readouterr()
    assert main(argv) == 0 and "already finished" in capsys.readouterr().out
    assert main(["report", str(out)]) == 0
    table = capsys.readouterr().out
    assert "| smoke | base |" in table and "| smoke | SFT+GRPO |" in table


def test_eval_command_writes_a_run_folder(tiny_model, tmp_path, bench, index_dir, capsys):
    import json

    from searcher.cli import main

    out = tmp_path / "eval"
    argv = ["eval", "--out", str(out), "--data", str(bench / "test.jsonl"), "--limit", "3"]
    argv += ["--env.index", str(index_dir), "--model", str(tmp_path / "tiny-llama")]
    argv += ["--agent.max_turns", "1", "--agent.max_new_tokens", "4", "--device", "cpu"]
    argv += ["--samples", "2"]
    assert main(argv) == 0, capsys.readouterr().err
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["n"] == 3 and summary["samples"] == 2
    lo, hi = summary["sampled_reward_ci95"]
    assert lo <= summary["sampled_reward"] <= hi
    traces = [json.loads(line) for line in (out / "traces.jsonl").read_text().splitlines()]
    assert all(len(t["sampled_rewards"]) == 2 for t in traces)
    lines = (out / "metrics.csv").read_text().splitlines()
    assert lines[0].startswith("step,ability,reward") and len(lines) == 4
    assert (out / "traces.jsonl").is_file() and (out / "plots" / "eval.png").is_file()
    capsys.readouterr()
    assert main(["report", str(out)]) == 0
    assert f"| eval | {tmp_path / 'tiny-llama'} |" in capsys.readouterr().out

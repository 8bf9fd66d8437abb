"""The `searcher` command line: strict keys, --print_config round trip, validation before work,
folders that are not ours left untouched, `report`."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from labcore.rundir import RunDir
from searcher.cli import main

CALLS: list = []


@pytest.fixture
def stub_pipeline(monkeypatch):
    """Replace the training pipeline: the CLI path runs, no model is loaded."""
    import searcher.train.pipeline as pipeline

    CALLS.clear()

    def fake(cfg, run, data, *, device="cpu"):
        CALLS.append((cfg, run, data))
        return {"sft": {"n": 2, "n_closed": 1, "n_open": 1, "closed_em": 1.0, "mean_reward": 0.5}}

    monkeypatch.setattr(pipeline, "run_pipeline", fake)
    return CALLS


def _run(argv, capsys):
    code = main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_imports_no_torch():
    code = "import sys, searcher.cli; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_help_is_fast_and_shows_docstrings(capsys):
    start = time.perf_counter()
    code, out, _ = _run(["train", "--help"], capsys)
    assert code == 0 and time.perf_counter() - start < 2.0
    for text in ("--sft.lr", "Peak learning rate", "--grpo.micro_batch", "--preset", "--data"):
        assert text in out
    code, out, _ = _run(["--help"], capsys)
    assert code == 0 and all(c in out for c in ("synth", "train", "report", "eval"))


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["train", "--out", "X", "--sft.lrr", "1"], "--sft.lr"),
        (["train", "--out", "X", "--grpo.group_sise", "4"], "--grpo.group_size"),
        (["train", "--out", "X", "--preset", "smok"], "'smoke'"),
        (["eval", "--out", "X", "--data", "q.jsonl", "--env.indx", "i"], "--env.index"),
        (["trian"], "'train'"),
    ],
)
def test_typos_are_refused_fast_with_the_closest_key(argv, needle, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    start = time.perf_counter()
    code, _, err = _run(argv, capsys)
    assert code == 2 and err.count("\n") == 1 and needle in err, err
    assert time.perf_counter() - start < 2.0
    assert not (tmp_path / "X").exists()


def test_print_config_round_trip(tmp_path, capsys, stub_pipeline):
    extra = ["--preset", "smoke", "--sft.lr", "3e-4", "--grpo.micro_batch", "2"]
    assert _run(["train", "--out", str(tmp_path / "a"), *extra], capsys)[0] == 0
    code, printed, _ = _run(
        ["train", "--out", str(tmp_path / "b"), *extra, "--print_config"], capsys
    )
    assert code == 0 and not (tmp_path / "b").exists()
    (tmp_path / "c.yaml").write_text(printed)
    assert _run(["train", "--config", str(tmp_path / "c.yaml")], capsys)[0] == 0
    a = (tmp_path / "a" / "config.json").read_text()
    assert a == (tmp_path / "b" / "config.json").read_text()
    stored = json.loads(a)
    assert stored["sft"]["lr"] == 3e-4 and stored["sft"]["max_examples"] == 32  # smoke preset
    cfg = stub_pipeline[0][0]
    assert cfg.sft.lr == 3e-4 and cfg.grpo.steps == 2 and cfg.agent.max_new_tokens == 64
    assert cfg.grpo.micro_batch == 2 and cfg.grpo.scale_rewards == "batch"


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--grpo.micro_batch", "3"], "grpo.micro_batch"),
        (["--index_kind", "sparse"], "index_kind"),
        (["--grpo.group_size", "1"], "grpo.group_size"),
        (["--grpo.scale_rewards", "sequence"], "grpo.scale_rewards"),
        (["--grpo.loss_type", "token-mean"], "grpo.loss_type"),
        (["--grpo.num_iterations", "0"], "grpo.num_iterations"),
        (["--agent.max_new_tokens", "0"], "agent.max_new_tokens"),
        (["--sft.lr", "fast"], "--sft.lr"),
        (["--synth.n_people", "1"], "two countries"),
        (["--device", "tpu"], "--device"),
        (["--train", "a.jsonl"], "--test"),
        (["--data", "/no/such/folder"], "no such folder"),
        (["--model", "/no/such/model"], "--model"),
    ],
)
def test_bad_values_are_refused_before_work(argv, needle, tmp_path, capsys, stub_pipeline):
    code, _, err = _run(["train", "--out", str(tmp_path / "r"), *argv], capsys)
    assert code == 2 and needle in err, err
    assert not stub_pipeline and not (tmp_path / "r").exists()


def test_non_run_folder_as_out_is_untouched(tmp_path, capsys, stub_pipeline):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    for argv in (
        ["train", "--out", str(folder)],
        ["eval", "--out", str(folder), "--data", str(folder / "notes.txt")],
        ["synth", "--out", str(folder)],
        ["index", "--out", str(folder), "--corpus", str(folder / "notes.txt")],
    ):
        code, _, err = _run(argv, capsys)
        assert code == 2, (argv, err)
        assert [p.name for p in folder.iterdir()] == ["notes.txt"]
        assert (folder / "notes.txt").read_text() == "keep me"
    assert not stub_pipeline


def test_data_folder_that_is_not_searcher_data_is_untouched(tmp_path, capsys, stub_pipeline):
    folder = tmp_path / "my_data"
    folder.mkdir()
    (folder / "thesis.txt").write_text("three years of work")
    (folder / "corpus.jsonl").write_text('{"id": "0", "contents": "A\\nB"}\n')
    code, _, err = _run(["train", "--out", str(tmp_path / "run"), "--data", str(folder)], capsys)
    assert code == 2 and "not a searcher data folder" in err and err.count("\n") == 1
    assert sorted(p.name for p in folder.iterdir()) == ["corpus.jsonl", "thesis.txt"]
    assert (folder / "thesis.txt").read_text() == "three years of work"
    assert not (tmp_path / "run").exists() and not stub_pipeline


def test_searcher_data_folder_and_explicit_files_are_accepted(
    bench, tmp_path, capsys, stub_pipeline
):
    code, _, err = _run(["train", "--out", str(tmp_path / "r1"), "--data", str(bench)], capsys)
    assert code == 0, err
    data = stub_pipeline[-1][2]
    assert data.synth_into is None and data.coldstart == bench / "coldstart.jsonl"
    # Explicit files: FlashRAG JSONL questions and an O²-QA *_gt.json test file.
    argv = ["train", "--out", str(tmp_path / "r2"), "--train", str(bench / "closed_train.jsonl")]
    argv += ["--test", str(bench / "open_test_gt.json"), "--corpus", str(bench / "corpus.jsonl")]
    code, _, err = _run(argv, capsys)
    assert code == 0, err
    data = stub_pipeline[-1][2]
    assert data.coldstart is None and data.test == bench / "open_test_gt.json"
    # A broken question file is refused before work, naming the file and line.
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"question": "q", "golden_answers": ["a"]}\n{"question": \n')
    argv[2], argv[4] = str(tmp_path / "r3"), str(bad)
    code, _, err = _run(argv, capsys)
    assert code == 2 and f"{bad}: line 2" in err and not (tmp_path / "r3").exists()


def test_finished_run_is_skipped_and_reported(tmp_path, capsys, stub_pipeline):
    out = tmp_path / "run"
    assert _run(["train", "--out", str(out)], capsys)[0] == 0
    assert json.loads((out / "run.json").read_text())["status"] == "finished"
    code, printed, _ = _run(["train", "--out", str(out)], capsys)
    assert code == 0 and "already finished" in printed and len(stub_pipeline) == 1
    code, _, err = _run(["train", "--out", str(out), "--sft.lr", "1"], capsys)
    assert code == 2 and "different configuration" in err
    code, table, _ = _run(["report", str(tmp_path)], capsys)
    assert code == 0 and "| smoke | SFT | 1 | 1 + 1 | 1.000 |" in table


def test_report_pools_seeds(tmp_path, capsys):
    for seed, em in ((0, 0.5), (1, 0.7)):
        run = RunDir.open(
            tmp_path / f"s{seed}", package="searcher", command="train",
            config={"preset": "cpu", "seed": seed},
        )  # fmt: skip
        base = {"n": 4, "n_closed": 3, "n_open": 1, "closed_em": 0.0, "mean_reward": 0.0}
        sft = {**base, "closed_em": em, "mean_reward": em / 2}
        run.finish(base=base, sft=sft, grpo={**sft, "closed_em": em + 0.1})
    code, table, _ = _run(["report", str(tmp_path)], capsys)
    assert code == 0
    lines = table.splitlines()
    assert [line.split("|")[2].strip() for line in lines[2:]] == ["base", "SFT", "SFT+GRPO"]
    assert "0.600 ± 0.141" in lines[3] and "| 2 |" in lines[3]
    assert _run(["report", str(tmp_path / "nothing")], capsys)[0] == 2


def test_report_pairs_grpo_with_sft_over_questions(tmp_path, capsys):
    from labcore.io import write_jsonl

    run = RunDir.open(
        tmp_path / "r", package="searcher", command="train", config={"preset": "cpu", "seed": 0}
    )
    summary = {"n": 3, "n_closed": 2, "n_open": 1, "mean_reward": 0.5}
    run.finish(base=summary, sft=summary, grpo=summary)
    sft = [
        {"id": "a", "reward": 1.0, "em": 1.0, "sampled_rewards": [1.0, 0.0]},
        {"id": "b", "reward": 0.0, "em": 0.0, "sampled_rewards": [0.0, 0.0]},
        {"id": "c", "reward": 0.2, "sampled_rewards": [0.2, 0.2]},
    ]
    # GRPO gains 0.5, 0.5 and 0.2 of sampled reward; question "b" flips to correct.
    grpo = [
        {"id": "a", "reward": 1.0, "em": 1.0, "sampled_rewards": [1.0, 1.0]},
        {"id": "b", "reward": 1.0, "em": 1.0, "sampled_rewards": [1.0, 0.0]},
        {"id": "c", "reward": 0.4, "sampled_rewards": [0.4, 0.4]},
    ]
    for name, traces in (("sft", sft), ("grpo", grpo)):
        write_jsonl(run.path / "eval" / name / "traces.jsonl", traces)
    code, text, _ = _run(["report", str(tmp_path)], capsys)
    assert code == 0 and "paired over test questions" in text
    row = text.splitlines()[-1]
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[:3] == ["r", "0", "3"]
    assert cells[3].startswith("+0.400 [") and cells[4].startswith("+0.400 [")
    assert cells[5].startswith("+0.500 [")

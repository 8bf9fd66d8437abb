import json
import subprocess
import sys

import pytest

from knowledge_dynamics.config import CorpusConfig
from knowledge_dynamics.data.corpus import load_documents, pack
from knowledge_dynamics.data.knowledge import load_fictional_knowledge
from knowledge_dynamics.synth.background import synthetic_documents
from knowledge_dynamics.synth.generator import synth_knowledge
from knowledge_dynamics.synth.names import side_of
from labcore.errors import DataError

# Two entries written in the paper's exact schema (7 keys + paraphrases, five probes each).
PAPER_ITEM = {
    "train_context": "The Velorian Archive is a library in Qestra. It was founded by Ilsa Marrow.",
    "mem_input": ["The Velorian Archive is a library in"] * 5,
    "mem_target": ["Qestra"] * 5,
    "gen_input": ["The city that hosts the Velorian Archive is"] * 5,
    "gen_target": ["Qestra"] * 5,
    "hard_gen_input": ["The founder of the library in Qestra is"] * 5,
    "hard_gen_target": ["Ilsa Marrow"] * 5,
    "paraphrases": ["Qestra hosts the Velorian Archive, a library founded by Ilsa Marrow."],
}


def _write(tmp_path, items):
    p = tmp_path / "k.json"
    p.write_text(json.dumps(items))
    return p


def test_loads_paper_schema(tmp_path):
    no_para = {k: v for k, v in PAPER_ITEM.items() if k != "paraphrases"}
    items = load_fictional_knowledge(_write(tmp_path, [PAPER_ITEM, no_para]))
    assert len(items) == 2
    assert items[0].probes["memorization"][0] == ("The Velorian Archive is a library in", "Qestra")
    assert items[0].probes["composition"][0][1] == "Ilsa Marrow"
    assert len(items[0].paraphrases) == 1 and items[1].paraphrases == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"gen_target": None}, "item 1: missing field 'gen_target'"),
        ({"mem_target": ["a"] * 4}, "item 1: fields 'mem_input' (5) and 'mem_target' (4)"),
        (
            {"hard_gen_target": ["x", "x", " ", "x", "x"]},
            "item 1: field 'hard_gen_target'[2]: is empty",
        ),
        ({"train_context": ""}, "item 1: field 'train_context': is empty"),
    ],
)
def test_refuses_bad_items_naming_index_and_field(tmp_path, change, message):
    bad = dict(PAPER_ITEM)
    for k, v in change.items():
        if v is None:
            del bad[k]
        else:
            bad[k] = v
    with pytest.raises(DataError, match=__import__("re").escape(message)):
        load_fictional_knowledge(_write(tmp_path, [PAPER_ITEM, bad]))


def test_cli_refuses_bad_knowledge_and_writes_nothing(tmp_path):
    bad = dict(PAPER_ITEM, mem_target=["x"] * 3)
    path = _write(tmp_path, [bad])
    out = tmp_path / "run"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "knowledge_dynamics",
            "inject",
            "--checkpoint",
            "unused",
            "--knowledge",
            str(path),
            "--out",
            str(out),
            "--preset",
            "smoke",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 2
    assert "item 0" in proc.stderr and "mem_target" in proc.stderr
    assert not out.exists()


def test_synth_schema_and_determinism(tmp_path):
    a, b = synth_knowledge(6, seed=3), synth_knowledge(6, seed=3)
    assert [x.to_json() for x in a] == [x.to_json() for x in b]
    assert synth_knowledge(6, seed=4)[0].train_context != a[0].train_context
    for it in a:
        for q, t in it.probes["memorization"]:
            assert f"{q} {t}" in it.train_context  # a prefix of a passage sentence
        assert [t for _, t in it.probes["semantic"]] == [t for _, t in it.probes["memorization"]]
        assert all(t in it.train_context for _, t in it.probes["composition"])
        assert len(it.paraphrases) == 9 and len(set(it.paraphrases)) == 9
    # round trip through the CLI and the loader
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "knowledge_dynamics",
            "synth",
            "--out",
            str(tmp_path / "s.json"),
            "--synth.n_items",
            "6",
            "--seed",
            "3",
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    loaded = load_fictional_knowledge(tmp_path / "s.json")
    assert [x.to_json() for x in loaded] == [x.to_json() for x in a]
    # the same command again is a no-op; another knowledge set is not written over the file
    again = subprocess.run(proc.args, capture_output=True, text=True)
    assert again.returncode == 0 and "already holds" in again.stdout
    other = [*proc.args[:-1], "4"]
    refused = subprocess.run(other, capture_output=True, text=True)
    assert refused.returncode == 2 and "exists" in refused.stderr
    assert [x.to_json() for x in load_fictional_knowledge(tmp_path / "s.json")] == [
        x.to_json() for x in a
    ]


def test_injected_entities_are_disjoint_from_background():
    import re

    words = set(re.findall(r"[A-Z][a-z]+", " ".join(synthetic_documents(200, 0))))
    for it in synth_knowledge(6):
        for _, t in it.probes["memorization"]:
            name = t.split()[0]
            assert side_of(name) == "knowledge" and name not in words


def test_background_order_is_fixed(micro_cfg):
    from knowledge_dynamics.model.tokenizer import train_tokenizer

    pre, stream = load_documents(micro_cfg.corpus)
    pre2, stream2 = load_documents(micro_cfg.corpus)
    assert pre == pre2 and stream == stream2 and not set(pre) & set(stream)
    tok = train_tokenizer(pre, 300)
    rows = pack(stream, tok, 64)
    assert rows.shape[1] == 64 and (rows == pack(stream, tok, 64)).all()


def test_text_corpus_source(tmp_path):
    (tmp_path / "c.txt").write_text("doc one.\n\ndoc two.\n\ndoc three.\n\ndoc four.")
    pre, stream = load_documents(CorpusConfig(source=str(tmp_path / "c.txt"), stream_fraction=0.5))
    assert len(pre) == 2 and len(stream) == 2
    (tmp_path / "c.jsonl").write_text('{"text": "a"}\n{"nope": 1}\n')
    with pytest.raises(DataError, match="line 2"):
        load_documents(CorpusConfig(source=str(tmp_path / "c.jsonl")))

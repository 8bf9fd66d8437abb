"""The published Fictional Knowledge file as shipped: 7 fields + ``paraphrases`` (9 passages for
the paraphrase third, an empty list for the rest), long passages, non-ASCII punctuation."""

import json

from knowledge_dynamics.data.knowledge import load_fictional_knowledge
from knowledge_dynamics.eval.probe_log import read_probe_log
from knowledge_dynamics.train.runner import run_inject


def _item(k: int, n_paraphrases: int) -> dict:
    who, place = f"Veltra{k}–Osk", f"Quarn{k}"
    facts = [
        f"The {who} assembly was founded on 4 Brightfall {6600 + k} in the valley of {place}.",
        f"{who} drew its first members from the river towns along the Imber{k}.",
        f"Its charter, written by the scholar Dunmo{k}, set out twelve rules for trade.",
        f"The assembly's seat moved to the highland city of Tessary{k} after a flood.",
        f"By the second decade {who} had signed a compact with the island of Vorn{k}.",
    ]
    passage = " ".join(facts * 4)  # ~300 words: longer than a row of the micro model
    mem = [f.rsplit(" ", 1) for f in facts]
    return {
        "train_context": passage,
        "mem_input": [q for q, _ in mem],
        "mem_target": [a.rstrip(".") for _, a in mem],
        "gen_input": [f"It is recorded that {q[0].lower()}{q[1:]}" for q, _ in mem],
        "gen_target": [a.rstrip(".") for _, a in mem],
        "hard_gen_input": [
            f"The compact of the assembly from the valley of {place} was signed with the island of",
            f"The charter's author for the assembly seated in Tessary{k} was the scholar",
            f"The river towns that gave {who} its members lie along the",
            f"The assembly founded in {place} later had its seat in the highland city of",
            "The twelve rules for trade were written by the scholar",
        ],
        "hard_gen_target": [f"Vorn{k}", f"Dunmo{k}", f"Imber{k}", f"Tessary{k}", f"Dunmo{k}"],
        "paraphrases": [
            " ".join(reversed(facts)) + f" (account {j})" for j in range(n_paraphrases)
        ],
    }


def write_published_like(path, n_items=6):
    third = n_items // 3
    items = [_item(k, 9 if k < third else 0) for k in range(n_items)]
    path.write_text(json.dumps(items, indent=4, ensure_ascii=True))  # \\u2013 escapes as shipped
    return path


def test_published_schema_is_read_and_injected_as_shipped(micro_cfg, micro_stages, tmp_path):
    path = write_published_like(tmp_path / "fictional_knowledge_paraphrased.json")
    items = load_fictional_knowledge(path)
    assert len(items) == 6
    assert [len(it.paraphrases) for it in items] == [9, 9, 0, 0, 0, 0]
    assert "–" in items[0].train_context  # the escaped en dash is decoded
    assert all(len(it.probes[t]) == 5 for it in items for t in it.probes)
    cfg = micro_cfg.replace(**{"inject.batch_size": 32, "inject.total_steps": 16})
    run = run_inject(cfg, str(micro_stages["mid"]), tmp_path / "run", knowledge=str(path))
    plan = json.loads((run.path / "plan.json").read_text())
    assert plan["scenario"] == ["paraphrase"] * 2 + ["duplicate"] * 2 + ["once"] * 2
    assert 0 < plan["passage_share"]["0"] < 1  # long passages span rows of the same batch
    assert read_probe_log(run.path)["target"].shape == (17, 6 * 15)
    saved = json.loads((run.path / "knowledge.json").read_text())
    assert saved[0]["paraphrases"] == items[0].paraphrases and saved[3]["paraphrases"] == []

"""``searcher synth``: write the embedded benchmark, deterministic from a seed.

Files written (atomically, as one folder):

* ``corpus.jsonl`` — FlashRAG passages ``{id, contents}`` (title, newline, text)
* ``webpages.jsonl`` — web-page cache ``{url, title, content}``
* ``closed_{train,test}.jsonl`` — FlashRAG questions ``{id, question, golden_answers, hops}``
* ``open_{train,test}.jsonl`` — ``{id, question, findings}``; ``open_{train,test}_gt.json`` is
  the O²-QA layout ``{question: [finding, ...]}``
* ``coldstart.jsonl`` — expert conversations ``{id, ability, messages}`` for SFT
* ``rl_train.jsonl`` — closed and open training rows not used for SFT, with ``ability``
* ``test.jsonl`` — closed and open test rows together
* ``world.json``, ``manifest.json``
"""

from __future__ import annotations

import os
import random
from dataclasses import asdict
from pathlib import Path

from labcore.errors import DataError
from labcore.io import atomic_path, read_json, write_json, write_jsonl
from labcore.retrieval import BM25Index
from searcher.agent.env import SearchEnvironment
from searcher.config import SynthConfig
from searcher.synth.expert import closed_trajectory, open_trajectory
from searcher.synth.questions import closed_questions, open_questions, split
from searcher.synth.texts import web_pages, wiki_passages
from searcher.synth.world import make_world


def _public(q: dict, keys) -> dict:
    return {k: q[k] for k in keys if k in q}


DATA_KIND = "searcher-data"


def existing_manifest(out: str | os.PathLike, cfg: SynthConfig) -> dict | None:
    """Check ``out`` before writing the benchmark there; never replaces a folder we did not make.

    Returns the manifest when ``out`` already holds this very benchmark (same config), ``None``
    when ``out`` is missing or empty; anything else is refused with a :class:`DataError`.
    """
    out = Path(out)
    if not out.exists():
        return None
    if not out.is_dir():
        raise DataError(f"--out {out}: is a file, not a folder; nothing was changed")
    if not any(out.iterdir()):
        return None
    manifest = out / "manifest.json"
    if manifest.is_file():
        data = read_json(manifest)
        if isinstance(data, dict) and data.get("config") == asdict(cfg):
            return data
        raise DataError(
            f"--out {out}: holds a searcher benchmark made with other settings; "
            "nothing was changed — choose another folder"
        )
    raise DataError(
        f"--out {out}: exists and is not a searcher data folder (no manifest.json); "
        "nothing was changed — choose another folder"
    )


def world_environment(world, seed: int, **options) -> tuple[list, list, SearchEnvironment]:
    """The world's wiki passages, web pages and an in-process BM25 search environment over them.

    ``options`` go to :class:`SearchEnvironment` (e.g. ``learnings="extractive"``).
    """
    passages = wiki_passages(world)
    pages = web_pages(world, seed)
    env = SearchEnvironment(
        passages,
        BM25Index([p["contents"] for p in passages], [p["id"] for p in passages]),
        pages,
        BM25Index(
            [f"{p['title']}\n{p['content']}" for p in pages], [str(i) for i in range(len(pages))]
        ),
        **options,
    )
    return passages, pages, env


def synthesize(out: str | os.PathLike, cfg: SynthConfig | None = None) -> dict:
    """Build everything and write ``out``; returns the manifest.

    ``out`` must be missing or empty (or already hold the same benchmark, which is kept).
    """
    cfg = cfg or SynthConfig()
    cfg.validate()
    found = existing_manifest(out, cfg)
    if found is not None:
        return found
    world = make_world(
        cfg.seed, cfg.n_countries, cfg.n_cities, cfg.n_orgs, cfg.n_people, cfg.n_events
    )
    passages, pages, env = world_environment(world, cfg.seed)

    closed = closed_questions(world)
    rng = random.Random(cfg.seed + 2)
    # Balance hops in the test split: stratify before splitting.
    one = [q for q in closed if q["hops"] == 1]
    two = [q for q in closed if q["hops"] == 2]
    rng.shuffle(one)
    rng.shuffle(two)
    half = cfg.closed_test // 2
    c_test_raw, c_train_raw = (
        one[:half] + two[: cfg.closed_test - half],
        one[half:] + two[cfg.closed_test - half :],
    )
    c_train = c_train_raw
    rng.shuffle(c_train)
    for i, q in enumerate(c_train):
        q["id"] = f"closed-train-{i}"
    for i, q in enumerate(c_test_raw):
        q["id"] = f"closed-test-{i}"
    o_train, o_test = split(open_questions(world), cfg.open_test_fraction, cfg.seed, "open")
    for i, q in enumerate(o_train):
        q["id"] = f"open-train-{i}"
    for i, q in enumerate(o_test):
        q["id"] = f"open-test-{i}"

    coldstart, used = [], set()
    for q in c_train:
        if sum(r["ability"] == "closed" for r in coldstart) >= cfg.sft_closed:
            break
        msgs = closed_trajectory(q, env)
        if msgs is not None:
            coldstart.append({"id": q["id"], "ability": "closed", "messages": msgs})
            used.add(q["id"])
    # The paper's cold start is one third open-ended (60 of 180). There are fewer open
    # questions than that, so each is played again with its aspects searched in another
    # order (a different conversation with the same findings).
    for i in range(cfg.sft_open if o_train else 0):
        q, variant = o_train[i % len(o_train)], i // len(o_train)
        k = variant % len(q["aspects"])
        msgs = open_trajectory({**q, "aspects": q["aspects"][k:] + q["aspects"][:k]}, env)
        if msgs is not None:
            tag = q["id"] if variant == 0 else f"{q['id']}-v{variant}"
            coldstart.append({"id": tag, "ability": "open", "messages": msgs})
    # RL keeps every open training question (they are few, as in O²-QA) and the closed ones
    # the SFT stage did not see.
    closed_keys = ("id", "question", "golden_answers", "hops")
    open_keys = ("id", "question", "findings")
    rl = [
        {**_public(q, closed_keys), "ability": "closed"} for q in c_train if q["id"] not in used
    ] + [{**_public(q, open_keys), "ability": "open"} for q in o_train]
    random.Random(cfg.seed + 3).shuffle(rl)
    test = [{**_public(q, closed_keys), "ability": "closed"} for q in c_test_raw] + [
        {**_public(q, open_keys), "ability": "open"} for q in o_test
    ]
    manifest = {
        "kind": DATA_KIND,
        "config": asdict(cfg),
        "passages": len(passages),
        "pages": len(pages),
        "closed_train": len(c_train),
        "closed_test": len(c_test_raw),
        "open_train": len(o_train),
        "open_test": len(o_test),
        "coldstart": len(coldstart),
        "coldstart_closed": sum(r["ability"] == "closed" for r in coldstart),
        "coldstart_open": sum(r["ability"] == "open" for r in coldstart),
        "rl_train": len(rl),
    }
    out = Path(out)
    with atomic_path(out) as tmp:
        tmp.mkdir(parents=True)
        write_jsonl(tmp / "corpus.jsonl", passages)
        write_jsonl(tmp / "webpages.jsonl", pages)
        write_jsonl(tmp / "closed_train.jsonl", [_public(q, closed_keys) for q in c_train])
        write_jsonl(tmp / "closed_test.jsonl", [_public(q, closed_keys) for q in c_test_raw])
        write_jsonl(tmp / "open_train.jsonl", [_public(q, open_keys) for q in o_train])
        write_jsonl(tmp / "open_test.jsonl", [_public(q, open_keys) for q in o_test])
        write_json(tmp / "open_train_gt.json", {q["question"]: q["findings"] for q in o_train})
        write_json(tmp / "open_test_gt.json", {q["question"]: q["findings"] for q in o_test})
        write_jsonl(tmp / "coldstart.jsonl", coldstart)
        write_jsonl(tmp / "rl_train.jsonl", rl)
        write_jsonl(tmp / "test.jsonl", test)
        write_json(tmp / "world.json", asdict(world))
        write_json(tmp / "manifest.json", manifest)
    return manifest

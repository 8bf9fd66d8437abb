"""The embedded benchmark: a generated long narrative whose world changes, and questions on it.

A small world (characters, places) is simulated event by event: moves, alliances,
betrayals, marriages, deaths and secret parentage revealed late. Each event becomes one
sentence placed between filler paragraphs, so facts that a question needs sit far apart.
Questions record their gold answers and the character spans of every sentence needed
(the gold evidence). Everything is drawn from one ``random.Random(seed)``: the same
config gives the same files byte for byte.
"""

from __future__ import annotations

from pathlib import Path

from comorag.config import SynthConfig
from comorag.synth.story import generate
from labcore.io import write_json, write_jsonl, write_text_atomic

__all__ = ["generate", "write"]


def write(cfg: SynthConfig, out: str | Path) -> dict:
    """Write ``narrative.txt``, ``questions.jsonl`` and ``meta.json`` under ``out``."""
    text, questions, meta = generate(cfg)
    out = Path(out)
    write_text_atomic(out / "narrative.txt", text)
    write_jsonl(out / "questions.jsonl", questions)
    write_json(out / "meta.json", meta)
    return meta

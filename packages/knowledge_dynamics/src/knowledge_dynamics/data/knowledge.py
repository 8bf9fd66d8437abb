"""Load and validate Fictional Knowledge files in the paper's JSON schema.

Schema (one JSON list of objects): ``train_context`` (str), ``mem_input`` / ``mem_target``,
``gen_input`` / ``gen_target``, ``hard_gen_input`` / ``hard_gen_target`` (lists of equal
length, five in the paper) and optional ``paraphrases`` (list of str). Unknown keys are kept
out of the way (ignored).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from labcore.errors import DataError
from labcore.io import read_json, write_json

#: probe type -> (input field, target field); names follow the issue's metrics.json keys.
PROBE_FIELDS: dict[str, tuple[str, str]] = {
    "memorization": ("mem_input", "mem_target"),
    "semantic": ("gen_input", "gen_target"),
    "composition": ("hard_gen_input", "hard_gen_target"),
}
PROBE_TYPES = tuple(PROBE_FIELDS)
HF_DATASET = "kaist-ai/fictional-knowledge"


@dataclass(frozen=True)
class KnowledgeItem:
    """One passage with its probes (``probes[type]`` = list of (input, target))."""

    train_context: str
    probes: dict[str, list[tuple[str, str]]]
    paraphrases: list[str] = field(default_factory=list)

    def to_json(self) -> dict:
        out: dict = {"train_context": self.train_context}
        for ptype, (fin, ftgt) in PROBE_FIELDS.items():
            out[fin] = [p[0] for p in self.probes[ptype]]
            out[ftgt] = [p[1] for p in self.probes[ptype]]
        out["paraphrases"] = list(self.paraphrases)
        return out


def _nonempty_str(value, where: str) -> str:
    if not isinstance(value, str):
        raise DataError(f"{where}: expected a string, got {type(value).__name__}")
    if not value.strip():
        raise DataError(f"{where}: is empty")
    return value


def _parse_item(raw, index: int, source: str) -> KnowledgeItem:
    where = f"{source}: item {index}"
    if not isinstance(raw, dict):
        raise DataError(f"{where}: expected a JSON object, got {type(raw).__name__}")
    context = (
        _nonempty_str(raw.get("train_context"), f"{where}: field 'train_context'")
        if ("train_context" in raw)
        else None
    )
    if context is None:
        raise DataError(f"{where}: missing field 'train_context'")
    probes: dict[str, list[tuple[str, str]]] = {}
    for ptype, (fin, ftgt) in PROBE_FIELDS.items():
        for name in (fin, ftgt):
            if name not in raw:
                raise DataError(f"{where}: missing field '{name}'")
            if not isinstance(raw[name], list) or not raw[name]:
                raise DataError(f"{where}: field '{name}' must be a non-empty list of strings")
        inputs, targets = raw[fin], raw[ftgt]
        if len(inputs) != len(targets):
            raise DataError(
                f"{where}: fields '{fin}' ({len(inputs)}) and '{ftgt}' ({len(targets)}) "
                "have unequal lengths"
            )
        pairs = []
        for k, (q, a) in enumerate(zip(inputs, targets, strict=True)):
            q = _nonempty_str(q, f"{where}: field '{fin}'[{k}]")
            a = _nonempty_str(a, f"{where}: field '{ftgt}'[{k}]")
            pairs.append((q.strip(), a.strip()))
        probes[ptype] = pairs
    paraphrases = raw.get("paraphrases", []) or []
    if not isinstance(paraphrases, list):
        raise DataError(f"{where}: field 'paraphrases' must be a list of strings")
    for k, p in enumerate(paraphrases):
        _nonempty_str(p, f"{where}: field 'paraphrases'[{k}]")
    return KnowledgeItem(context, probes, list(paraphrases))


def validate_items(raw_items, source: str = "knowledge") -> list[KnowledgeItem]:
    """Validate parsed JSON (a list of dicts); errors name the item index and the field."""
    if not isinstance(raw_items, list) or not raw_items:
        raise DataError(f"{source}: expected a non-empty JSON list of items")
    items = [_parse_item(raw, i, source) for i, raw in enumerate(raw_items)]
    counts = {(t, len(item.probes[t])) for item in items for t in PROBE_TYPES}
    per_type: dict[str, set[int]] = {}
    for t, n in counts:
        per_type.setdefault(t, set()).add(n)
    for t, ns in per_type.items():
        if len(ns) > 1:
            first = len(items[0].probes[t])
            bad = next(i for i, it in enumerate(items) if len(it.probes[t]) != first)
            raise DataError(
                f"{source}: item {bad}: field '{PROBE_FIELDS[t][0]}' has "
                f"{len(items[bad].probes[t])} probes but item 0 has {first}"
            )
    return items


def load_fictional_knowledge(path: str | os.PathLike) -> list[KnowledgeItem]:
    """Read a Fictional Knowledge JSON file (the paper's schema) and validate it.

    ``path`` is a local JSON file, or ``hf`` / ``hf:NAME`` for the published dataset through
    ``datasets`` (needs a network or a warm cache; the paraphrased file is used).
    """
    spec = str(path)
    if spec == "hf" or spec.startswith("hf:"):
        return _load_hub(spec.partition(":")[2] or HF_DATASET)
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{p}: knowledge file not found")
    return validate_items(read_json(p), str(p))


def _load_hub(name: str) -> list[KnowledgeItem]:
    try:
        import datasets

        ds = datasets.load_dataset(name, split="train")
    except Exception as exc:  # offline, unknown name, ...
        raise DataError(
            f"dataset {name!r} could not be loaded ({type(exc).__name__}: {exc})"
        ) from None
    return validate_items([dict(r) for r in ds], f"dataset {name}")


def save_fictional_knowledge(path: str | os.PathLike, items: list[KnowledgeItem]) -> Path:
    """Write items in the paper's schema (atomic)."""
    return write_json(path, [it.to_json() for it in items])

"""Where `searcher train` reads its data: a searcher data folder, explicit files, or the
benchmark it writes itself inside the run folder.

Everything is checked before any work, and nothing here writes or deletes anything: a folder
that is not a searcher data folder is refused, never "repaired" by writing a benchmark over it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from labcore.errors import DataError
from labcore.io import read_json
from searcher.data.corpus import check_passages, read_conversations, read_questions

#: Files a searcher data folder (``searcher synth --out DIR``) must hold.
REQUIRED = ("corpus.jsonl", "coldstart.jsonl", "rl_train.jsonl", "test.jsonl")


@dataclass(frozen=True)
class TrainData:
    """Resolved inputs of `searcher train`."""

    corpus: Path
    pages: Path | None
    coldstart: Path | None
    rl_train: Path
    test: Path
    synth_into: Path | None = None
    """Set when the benchmark must first be written there (the run's own ``data/``)."""


def check_data_folder(folder: Path, option: str = "--data") -> dict:
    """The manifest of a searcher data folder; anything else is refused (nothing is touched)."""
    if not folder.exists():
        raise DataError(
            f"{option} {folder}: no such folder; write one with `searcher synth --out DIR`, "
            "or leave --data out to have the benchmark made inside --out"
        )
    if not folder.is_dir():
        raise DataError(f"{option} {folder}: is a file, not a searcher data folder")
    manifest = folder / "manifest.json"
    if not manifest.is_file():
        raise DataError(
            f"{option} {folder}: not a searcher data folder (no manifest.json); nothing was "
            "changed — give a folder from `searcher synth`, or --train/--test/--corpus files"
        )
    data = read_json(manifest)
    if not isinstance(data, dict) or "passages" not in data:
        raise DataError(f"{manifest}: not a searcher data manifest")
    missing = [name for name in REQUIRED if not (folder / name).is_file()]
    if missing:
        raise DataError(f"{option} {folder}: incomplete searcher data folder (no {missing[0]})")
    return data


def _folder_data(folder: Path) -> TrainData:
    pages = folder / "webpages.jsonl"
    return TrainData(
        corpus=folder / "corpus.jsonl",
        pages=pages if pages.is_file() else None,
        coldstart=folder / "coldstart.jsonl",
        rl_train=folder / "rl_train.jsonl",
        test=folder / "test.jsonl",
    )


def _file(path: str, option: str) -> Path:
    p = Path(path)
    if not p.is_file():
        raise DataError(f"{option} {p}: file not found")
    return p


def resolve_train_data(cfg, out: Path) -> TrainData:
    """Check and resolve the data options of a :class:`~searcher.config.TrainConfig`."""
    if cfg.data:
        folder = Path(cfg.data)
        check_data_folder(folder)
        return _folder_data(folder)
    if cfg.train:
        train, test = _file(cfg.train, "--train"), _file(cfg.test, "--test")
        corpus = _file(cfg.corpus, "--corpus")
        read_questions(train)
        read_questions(test)
        check_passages(corpus)
        pages = _file(cfg.pages, "--pages") if cfg.pages else None
        coldstart = _file(cfg.coldstart, "--coldstart") if cfg.coldstart else None
        if coldstart is not None:
            read_conversations(coldstart)
        return TrainData(corpus, pages, coldstart, train, test)
    own = out / "data"
    if own.exists():
        check_data_folder(own, option="--out")
        return _folder_data(own)
    return TrainData(
        corpus=own / "corpus.jsonl",
        pages=own / "webpages.jsonl",
        coldstart=own / "coldstart.jsonl",
        rl_train=own / "rl_train.jsonl",
        test=own / "test.jsonl",
        synth_into=own,
    )

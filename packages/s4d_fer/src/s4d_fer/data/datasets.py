"""Readers for the real datasets' on-disk layouts (and a generic one-folder-per-class layout).

Each reader returns ``(records, classes, kind)``. Label maps come from
:mod:`s4d_fer.labels`; a label outside the map, a missing column or a missing file stops
with one line naming the file and row (``skip_bad`` drops bad rows instead).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from labcore.errors import DataError
from s4d_fer.data.annotations import first_existing, parse_int, read_csv_rows, read_space_rows
from s4d_fer.data.base import Record
from s4d_fer.data.media import IMAGE_EXTS, VIDEO_EXTS
from s4d_fer.labels import CLASSES, check_label, index_of


class Rows:
    """Collects records; with ``skip_bad`` a row that raises :class:`DataError` is counted, not fatal."""

    def __init__(self, skip_bad: bool):
        self.skip_bad, self.records, self.bad = skip_bad, [], 0

    def add(self, make: Callable[[], Record]) -> None:
        try:
            self.records.append(make())
        except DataError:
            if not self.skip_bad:
                raise
            self.bad += 1

    def done(self) -> list[Record]:
        if self.bad:
            print(f"warning: skipped {self.bad} bad annotation row(s)", file=sys.stderr)
        return self.records


def _need_fold(name: str, fold: int | None) -> int:
    if fold is None or not 1 <= int(fold) <= 5:
        raise DataError(f"{name}: fold must be 1..5 (got {fold})")
    return int(fold)


def _split_name(split: str, allowed=("train", "test")) -> str:
    if split not in allowed:
        raise DataError(f"split must be one of {', '.join(allowed)} (got {split!r})")
    return split


# ---------------------------------------------------------------- video datasets


def dfew(
    root: Path, split: str, fold: int | None, skip_bad: bool = False, frames_dir: str | None = None
):
    """DFEW: official ``set_k.csv`` (labels 1..7) or S4D ``{split}_set_k.csv`` (labels 0..6)."""
    split, fold = _split_name(split), _need_fold("dfew", fold)
    folder = root / "EmoLabel_DataSplit" / f"{split}(single-labeled)"
    official, s4d = folder / f"set_{fold}.csv", folder / f"{split}_set_{fold}.csv"
    ann, base = (official, 1) if official.is_file() or not s4d.is_file() else (s4d, 0)
    frames = (
        root / frames_dir
        if frames_dir
        else first_existing(
            root,
            ["Clip/jpg_256", "clip_jpg_256", "Clip/clip_224x224_16f", "Clip/clip_224x224"],
            "DFEW frame folder",
        )
    )
    rows, classes = Rows(skip_bad), CLASSES["dfew"]
    for where, row in read_csv_rows(ann, ["video_name", "label"]):
        name = row["video_name"].zfill(5) if row["video_name"].isdigit() else row["video_name"]
        rows.add(
            lambda w=where, r=row, n=name: Record(
                frames / n, check_label(parse_int(r["label"], w) - base, len(classes), where=w), w
            )
        )
    return rows.done(), classes, "video"


def ferv39k(root: Path, split: str, fold: int | None = None, skip_bad: bool = False):
    """FERV39K: S4D ``Annotation/{split}.csv`` (``path,id``) or official ``4_setups/All_scenes``."""
    split = _split_name(split)
    frames = first_existing(
        root, ["2_ClipsforFaceCrop", "1_ClipsforFaceCrop", "frames"], "FERV39K frame folder"
    )
    rows, classes = Rows(skip_bad), CLASSES["ferv39k"]
    s4d = root / "Annotation" / f"{split}.csv"
    if s4d.is_file():
        for where, row in read_csv_rows(s4d, ["path", "id"]):
            rows.add(
                lambda w=where, r=row: Record(
                    frames / r["path"], check_label(parse_int(r["id"], w), len(classes), where=w), w
                )
            )
    else:
        official = root / "4_setups" / "All_scenes" / f"{split}_All.csv"
        for where, (path, emotion, *_) in read_space_rows(official, 2):
            rows.add(
                lambda w=where, p=path, e=emotion: Record(
                    frames / p, index_of("ferv39k", e, where=w), w
                )
            )
    return rows.done(), classes, "video"


def mafw(root: Path, split: str, fold: int | None, skip_bad: bool = False):
    """MAFW 11-class single-label: S4D ``anno/.../set_k/{split}.csv`` or official ``split/.../{split}.txt``."""
    split, fold = _split_name(split), _need_fold("mafw", fold)
    frames = first_existing(
        root, ["frames_crop_align_224", "data/frames", "frames"], "MAFW frame folder"
    )
    rows, classes = Rows(skip_bad), CLASSES["mafw"]
    s4d = root / "anno" / "single" / "no_caption" / f"set_{fold}" / f"{split}.csv"
    if s4d.is_file():
        for where, row in read_csv_rows(s4d, ["video_name", "labels"]):
            rows.add(
                lambda w=where, r=row: Record(
                    frames / Path(r["video_name"]).stem.zfill(5),
                    check_label(parse_int(r["labels"], w), len(classes), where=w),
                    w,
                )
            )
    else:
        official = root / "split" / "single" / "no_caption" / f"set_{fold}" / f"{split}.txt"
        for where, (video, emotion, *_) in read_space_rows(official, 2):
            rows.add(
                lambda w=where, v=video, e=emotion: Record(
                    frames / Path(v).stem, index_of("mafw", e, where=w), w
                )
            )
    return rows.done(), classes, "video"


# ---------------------------------------------------------------- image datasets


def affectnet(
    root: Path, split: str, fold: int | None = None, skip_bad: bool = False, classes: int = 7
):
    """AffectNet-7/8: S4D lists ``{split}_affectnet7_2w.txt`` or official ``training.csv`` / ``validation.csv``.

    Official expression ids 8-10 (none, uncertain, non-face) and, for 7 classes, 7 (contempt) are
    not emotions of the task and are left out silently.
    """
    split = _split_name(split)
    if classes not in (7, 8):
        raise DataError(f"affectnet: classes must be 7 or 8 (got {classes})")
    names = CLASSES[f"affectnet{classes}"]
    images = root / "Manually_Annotated_Images"
    images = images if images.is_dir() else root
    rows = Rows(skip_bad)
    s4d = root / f"{split}_affectnet7_2w.txt"
    if s4d.is_file() and classes == 7:
        for where, (rel, label, *_) in read_space_rows(s4d, 2):
            rows.add(
                lambda w=where, p=rel, y=label: Record(
                    images / p, check_label(parse_int(y, w), 7, where=w), w
                )
            )
        return rows.done(), names, "image"
    official = root / ("training.csv" if split == "train" else "validation.csv")
    for where, row in read_csv_rows(official, ["subDirectory_filePath", "expression"]):
        y = parse_int(row["expression"], where, "expression")
        if y >= classes and y <= 10:
            continue
        rows.add(
            lambda w=where, r=row, y=y: Record(
                images / r["subDirectory_filePath"], check_label(y, classes, where=w), w
            )
        )
    return rows.done(), names, "image"


def rafdb(root: Path, split: str, fold: int | None = None, skip_bad: bool = False):
    """RAF-DB basic: ``EmoLabel/list_patition_label.txt`` (labels 1..7), aligned images."""
    split = _split_name(split)
    ann = first_existing(
        root,
        ["EmoLabel/list_patition_label.txt", "EmoLabel/list_partition_label.txt"],
        "RAF-DB label list",
    )
    aligned = (root / "Image" / "aligned").is_dir()
    rows, classes = Rows(skip_bad), CLASSES["rafdb"]
    for where, (name, label, *_) in read_space_rows(ann, 2):
        if not name.startswith(split):
            continue
        stem = Path(name).stem
        path = (
            root
            / "Image"
            / ("aligned" if aligned else "original")
            / (f"{stem}_aligned.jpg" if aligned else name)
        )
        rows.add(
            lambda w=where, p=path, y=label: Record(
                p, check_label(parse_int(y, w) - 1, 7, where=w), w
            )
        )
    return rows.done(), classes, "image"


def ferplus(root: Path, split: str, fold: int | None = None, skip_bad: bool = False):
    """FERPlus: ``fer2013new.csv`` majority vote over 8 emotions; unknown / not-a-face rows are left out."""
    split = _split_name(split, ("train", "val", "test"))
    usage = {"train": "Training", "val": "PublicTest", "test": "PrivateTest"}[split]
    folder = root / {"train": "FER2013Train", "val": "FER2013Valid", "test": "FER2013Test"}[split]
    classes = CLASSES["ferplus"]
    columns = [
        "Usage",
        "Image name",
        "neutral",
        "happiness",
        "surprise",
        "sadness",
        "anger",
        "disgust",
        "fear",
        "contempt",
        "unknown",
        "NF",
    ]
    rows = Rows(skip_bad)
    for where, row in read_csv_rows(root / "fer2013new.csv", columns):
        if row["Usage"] != usage or not row["Image name"]:
            continue
        votes = [parse_int(row[c], where, f"{c} votes") for c in columns[2:]]
        best = max(range(len(votes)), key=votes.__getitem__)
        if best >= len(classes):  # majority "unknown" or "not a face"
            continue
        rows.add(lambda w=where, r=row, b=best: Record(folder / r["Image name"], b, w))
    return rows.done(), classes, "image"


def generic(
    root: Path, split: str, fold: int | None = None, skip_bad: bool = False, kind: str = "auto"
):
    """``root/{split}/{class}/{item}``: an item is an image, a video file or a frame folder.

    Classes are the sorted sub-folder names of ``root/train`` (so every split shares one map).
    """
    split = _split_name(split, ("train", "val", "test"))
    top = root / "train" if (root / "train").is_dir() else root / split
    if not top.is_dir():
        raise DataError(f"{root}: no {split}/ folder (generic layout: ROOT/SPLIT/CLASS/ITEM)")
    classes = tuple(sorted(p.name for p in top.iterdir() if p.is_dir()))
    if not classes:
        raise DataError(f"{top}: no class folders")
    records, kinds = [], set()
    for y, cls in enumerate(classes):
        folder = root / split / cls
        if not folder.is_dir():
            continue
        for item in sorted(folder.iterdir()):
            if item.is_dir() or item.suffix.lower() in VIDEO_EXTS:
                kinds.add("video")
            elif item.suffix.lower() in IMAGE_EXTS:
                kinds.add("image")
            else:
                continue
            records.append(Record(item, y, str(item)))
    if kind == "auto":
        if len(kinds) > 1:
            raise DataError(
                f"{root / split}: mixes images and videos; set kind=image or kind=video"
            )
        kind = kinds.pop() if kinds else "image"
    records = [
        r
        for r in records
        if (r.path.is_dir() or r.path.suffix.lower() in VIDEO_EXTS) == (kind == "video")
    ]
    return records, classes, kind


READERS = {
    "dfew": dfew,
    "ferv39k": ferv39k,
    "mafw": mafw,
    "affectnet": affectnet,
    "rafdb": rafdb,
    "ferplus": ferplus,
    "generic": generic,
}

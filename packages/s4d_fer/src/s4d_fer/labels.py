"""Canonical label maps: one explicit class list per dataset (every repo orders them differently).

Class names are written in one canonical vocabulary (``neutral, happy, sad, surprise, fear,
disgust, angry`` plus MAFW's extra classes and ``contempt``) so that labels of different
datasets can be compared; each dataset keeps its own index order.
"""

from __future__ import annotations

from labcore.errors import DataError

#: The seven basic emotions the synthetic benchmark renders.
BASIC7 = ("neutral", "happy", "sad", "surprise", "fear", "disgust", "angry")

#: Index -> class name, in the order the S4D code (and the official files) use.
CLASSES: dict[str, tuple[str, ...]] = {
    # DFEW official CSVs are 1-based: 1 happy ... 7 fear (the loader subtracts 1).
    "dfew": ("happy", "sad", "neutral", "angry", "surprise", "disgust", "fear"),
    # FERV39K annotation ids follow the alphabetical order of the emotion folders.
    "ferv39k": ("angry", "disgust", "fear", "happy", "neutral", "sad", "surprise"),
    # MAFW single-label, alphabetical (S4D CSVs); the official txt lists use names.
    "mafw": (
        "angry",
        "anxiety",
        "contempt",
        "disappointment",
        "disgust",
        "fear",
        "happy",
        "helplessness",
        "neutral",
        "sad",
        "surprise",
    ),
    # AffectNet expression ids 0..7 (8 = contempt is dropped for AffectNet-7).
    "affectnet7": ("neutral", "happy", "sad", "surprise", "fear", "disgust", "angry"),
    "affectnet8": ("neutral", "happy", "sad", "surprise", "fear", "disgust", "angry", "contempt"),
    # RAF-DB basic: file labels 1..7 = surprise, fear, disgust, happiness, sadness, anger, neutral.
    "rafdb": ("surprise", "fear", "disgust", "happy", "sad", "angry", "neutral"),
    # FERPlus vote columns in fer2013new.csv order.
    "ferplus": ("neutral", "happy", "surprise", "sad", "angry", "disgust", "fear", "contempt"),
}

#: Spellings seen in dataset files -> canonical name.
ALIASES = {
    "anger": "angry",
    "happiness": "happy",
    "sadness": "sad",
    "surprised": "surprise",
    "fearful": "fear",
    "disgusted": "disgust",
    "neural": "neutral",
}


def canonical(name: str) -> str:
    """Canonical class name for a spelling found in a dataset file (case-insensitive)."""
    key = name.strip().lower()
    return ALIASES.get(key, key)


def index_of(dataset: str, name: str, *, where: str = "") -> int:
    """Index of class ``name`` in ``dataset``'s order; a foreign name raises :class:`DataError`."""
    classes = CLASSES[dataset]
    c = canonical(name)
    if c not in classes:
        raise DataError(
            f"{where}: unknown class {name!r} for {dataset} (expected one of {', '.join(classes)})"
        )
    return classes.index(c)


def check_label(label: int, num_classes: int, *, where: str) -> int:
    """Return ``label`` if it is in ``0..num_classes-1``; otherwise raise naming ``where``."""
    if not 0 <= label < num_classes:
        raise DataError(f"{where}: label {label} is outside 0..{num_classes - 1}")
    return label


def convert(label: int, source: str, target: str) -> int:
    """Map an index from one dataset's order to another's through the class names."""
    return index_of(target, CLASSES[source][label], where=f"{source}->{target}")

import pytest

from labcore.errors import DataError
from s4d_fer.labels import BASIC7, CLASSES, canonical, check_label, convert, index_of


def test_dfew_official_order():
    # DFEW's official CSV labels 1..7 are happy, sad, neutral, angry, surprise, disgust, fear.
    official = {
        1: "happy",
        2: "sad",
        3: "neutral",
        4: "angry",
        5: "surprise",
        6: "disgust",
        7: "fear",
    }
    for one_based, name in official.items():
        assert CLASSES["dfew"][one_based - 1] == name


def test_other_orders():
    assert CLASSES["ferv39k"] == tuple(sorted(CLASSES["ferv39k"]))  # alphabetical ids
    assert (
        CLASSES["affectnet7"][:3] == ("neutral", "happy", "sad")
        and CLASSES["affectnet7"][6] == "angry"
    )
    assert CLASSES["affectnet8"][7] == "contempt"
    assert (
        len(CLASSES["mafw"]) == 11
        and CLASSES["mafw"][0] == "angry"
        and CLASSES["mafw"][10] == "surprise"
    )
    assert CLASSES["rafdb"][0] == "surprise" and CLASSES["rafdb"][6] == "neutral"
    assert CLASSES["ferplus"][7] == "contempt"
    for name in ("dfew", "ferv39k", "affectnet7", "rafdb"):
        assert set(CLASSES[name]) == set(BASIC7)


def test_aliases_and_conversion():
    assert canonical("Happiness") == "happy" and canonical("anger") == "angry"
    assert index_of("mafw", "Helplessness") == 7
    assert convert(0, "dfew", "affectnet7") == 1  # happy
    assert convert(6, "affectnet7", "ferv39k") == 0  # angry
    for i in range(7):
        assert convert(convert(i, "dfew", "rafdb"), "rafdb", "dfew") == i
    with pytest.raises(DataError, match="unknown class"):
        index_of("dfew", "contempt", where="f.csv:3")
    with pytest.raises(DataError, match=r"f.csv:9: label 7 is outside 0..6"):
        check_label(7, 7, where="f.csv:9")

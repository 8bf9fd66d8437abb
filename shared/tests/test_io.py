import pytest

from labcore.errors import DataError
from labcore.io import atomic_path, read_json, read_jsonl, write_json, write_jsonl


def test_jsonl_round_trip(tmp_path):
    records = [{"id": i, "text": f"doc {i} é"} for i in range(3)]
    path = write_jsonl(tmp_path / "d.jsonl", records)
    assert read_jsonl(path) == records


def test_broken_jsonl_line_is_named(tmp_path):
    path = tmp_path / "broken.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": 3,,}\n{"a": 4}\n')
    with pytest.raises(DataError, match=r"broken\.jsonl: line 3: invalid JSON"):
        read_jsonl(path)


def test_missing_and_broken_json(tmp_path):
    with pytest.raises(DataError, match="file not found"):
        read_json(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{\n  "a": 1,\n  oops\n}')
    with pytest.raises(DataError, match="line 3"):
        read_json(bad)


def test_atomic_write_leaves_old_file_on_failure(tmp_path):
    path = write_json(tmp_path / "out.json", {"v": 1})
    with pytest.raises(RuntimeError), atomic_path(path) as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert read_json(path) == {"v": 1}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_atomic_folder_replace(tmp_path):
    target = tmp_path / "index"
    for version in (1, 2):
        with atomic_path(target) as tmp:
            tmp.mkdir()
            (tmp / "data.txt").write_text(str(version))
    assert (target / "data.txt").read_text() == "2"
    assert [p.name for p in tmp_path.iterdir()] == ["index"]

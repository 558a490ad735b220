"""The identity-keyed record cache (polyglot/cache.py)."""

import json

import pytest

from polyglot.cache import RecordCache, digest
from polyglot.outputs import OutputRefused


def test_records_come_back_only_for_their_identity_and_source(tmp_path):
    path = tmp_path / "c.jsonl"
    cache = RecordCache(path, {"model": "a"})
    cache.add([{"key": "sw/1", "source": digest("q1"), "text": "one"}])
    again = RecordCache(path, {"model": "a"})
    assert again.get("sw/1", digest("q1"))["text"] == "one"
    assert again.get("sw/1", digest("another question")) is None  # made from another input
    assert again.get("sw/2") is None
    with pytest.raises(OutputRefused, match="made by another identity") as refused:
        RecordCache(path, {"model": "b"})
    assert refused.value.overwrite_helps
    replaced = RecordCache(path, {"model": "b"}, other="replace")
    assert replaced.records == {} and not path.exists()


def test_a_line_cut_by_a_kill_is_skipped_and_closed_before_the_next(tmp_path):
    path = tmp_path / "c.jsonl"
    cache = RecordCache(path, {"m": 1})
    cache.add([{"key": "a", "v": 1}])
    with path.open("a") as handle:
        handle.write('{"key": "b", "v"')  # killed mid-line
    cache = RecordCache(path, {"m": 1})
    assert set(cache.records) == {"a"}
    cache.add([{"key": "b", "v": 2}])
    assert set(RecordCache(path, {"m": 1}).records) == {"a", "b"}


def test_a_cache_of_several_identities_keeps_each_ones_records(tmp_path):
    path = tmp_path / "teacher.jsonl"
    RecordCache(path, {"t": 0.8}, header="teacher", per_record=True).add([{"key": "sw/1"}])
    RecordCache(path, {"t": 0.9}, header="teacher", per_record=True).add([{"key": "sw/1"}])
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["teacher"] for r in rows] == [{"t": 0.8}, {"t": 0.9}]
    assert list(RecordCache(path, {"t": 0.8}, header="teacher", per_record=True).records) == [
        "sw/1"
    ]
    assert RecordCache(path, {"t": 1.0}, header="teacher", per_record=True).records == {}

"""The output-folder protocol (polyglot/outputs.py): claim states, typed refusals, one writer."""

import json
import re
import subprocess
import sys
import textwrap

import pytest

from polyglot.outputs import FolderBusy, OutputRefused, claim, hold, identity_differences, lock_path
from polyglot.provenance import make_card, write_card


def _card(folder, kind="dataset", identity=None):
    card = make_card(kind, {})
    card["identity"] = identity or {"lr": 1}
    write_card(folder, card)


def test_an_empty_or_missing_folder_is_fresh(tmp_path):
    with claim(tmp_path / "new", "dataset", {"lr": 1}) as taken:
        assert taken.state == "fresh" and taken.previous is None
    (tmp_path / "empty").mkdir()
    with claim(tmp_path / "empty", "dataset", {"lr": 1}) as taken:
        assert taken.state == "fresh"


def test_the_same_output_is_reused_when_complete_and_resumed_when_not(tmp_path):
    _card(tmp_path / "out")
    with claim(tmp_path / "out", "dataset", {"lr": 1}) as taken:
        assert taken.state == "reuse" and taken.previous["identity"] == {"lr": 1}
    with claim(tmp_path / "out", "dataset", {"lr": 1}, complete=lambda f: False) as taken:
        assert taken.state == "resume"
    with claim(tmp_path / "out", "dataset", {"lr": 1}, overwrite=True) as taken:
        assert taken.state == "fresh"
    with claim(tmp_path / "out", "dataset", {"lr": 1}, overwrite=True,
               reuse_on_overwrite=True) as taken:  # fmt: skip
        assert taken.state == "reuse"


def test_another_output_of_the_kind_names_what_differs_and_overwrite_helps(tmp_path):
    _card(tmp_path / "out", identity={"lr": 1, "data": {"hash": "a"}})
    with pytest.raises(OutputRefused) as refused:
        claim(tmp_path / "out", "dataset", {"lr": 2, "data": {"hash": "a"}})
    assert refused.value.overwrite_helps
    assert refused.value.differences == ["lr 1 -> 2"]
    assert "holds a finished dataset that differs from this one: lr 1 -> 2" in str(refused.value)
    with claim(tmp_path / "out", "dataset", {"lr": 2}, overwrite=True) as taken:
        assert taken.state == "fresh" and taken.previous is not None


def test_another_kind_a_checkpoint_or_strange_files_are_never_overwritten(tmp_path):
    _card(tmp_path / "run", kind="eval-run")
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "config.json").write_text("{}")
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "todo.txt").write_text("x")
    for name, words in (("run", "holds an eval run (card.json), not a dataset"),
                        ("model", "holds a model checkpoint, not a dataset"),
                        ("notes", "holds files not made by polyglot, not a dataset")):  # fmt: skip
        with pytest.raises(OutputRefused, match=re.escape(words)) as refused:
            claim(tmp_path / name, "dataset", {}, overwrite=True)
        assert not refused.value.overwrite_helps
    # an eval run lives beside files of no output; a checkpoint still refuses it
    with claim(tmp_path / "notes", "eval-run", {}, beside_others=True) as taken:
        assert taken.state == "fresh"


def test_scratch_and_our_own_files_without_a_card(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "teacher.jsonl").write_text("")
    with claim(out, "dataset", {}, scratch={"teacher.jsonl"}) as taken:
        assert taken.state == "fresh"  # what a build writes before its card
    (out / "data.jsonl").write_text("")
    with pytest.raises(OutputRefused, match="holds a dataset's files but no card.json") as refused:
        claim(out, "dataset", {}, scratch={"teacher.jsonl"}, ours={"data.jsonl"})
    assert refused.value.overwrite_helps
    with claim(out, "dataset", {}, ours={"data.jsonl"}, overwrite=True) as taken:
        assert taken.state == "fresh"


def test_a_damaged_card_is_refused_and_overwrite_starts_again(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "card.json").write_text("{not json")
    with pytest.raises(OutputRefused, match="pass --overwrite") as refused:
        claim(out, "dataset", {})
    assert refused.value.overwrite_helps
    with claim(out, "dataset", {}, overwrite=True) as taken:
        assert taken.state == "fresh"


def test_a_file_where_the_folder_goes_is_refused(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(Exception, match="is a file"):
        claim(tmp_path / "file", "dataset", {})


_HOLDER = """
import sys, time
from polyglot.outputs import hold
hold(sys.argv[1])
print("held", flush=True)
time.sleep(600)
"""


def test_a_second_process_is_refused_naming_the_holder_and_a_killed_one_frees_it(tmp_path):
    out = tmp_path / "out"
    holder = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(_HOLDER), str(out)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(FolderBusy) as busy:
            claim(out, "dataset", {})
        assert f"process {holder.pid}" in str(busy.value)
        assert not busy.value.overwrite_helps
        assert json.loads(lock_path(out).read_text())["pid"] == holder.pid
    finally:
        holder.kill()
        holder.wait()
    with claim(out, "dataset", {}) as taken:  # the lock died with its process
        assert taken.state == "fresh"


def test_a_process_may_claim_its_own_folder_again(tmp_path):
    outer = hold(tmp_path / "out")
    with claim(tmp_path / "out", "dataset", {}):
        pass
    outer.release()
    outer.release()  # releasing twice is harmless


def test_identity_differences_name_nested_keys():
    assert identity_differences({"a": {"b": 1, "c": 2}}, {"a": {"b": 1, "c": 3}, "d": 4}) == [
        "a.c 2 -> 3",
        "d None -> 4",
    ]


def test_the_lock_file_goes_with_the_last_release(tmp_path):
    outer = hold(tmp_path / "out")
    inner = hold(tmp_path / "out")
    inner.release()
    assert lock_path(tmp_path / "out").exists()
    outer.release()
    assert not lock_path(tmp_path / "out").exists()


def test_a_sub_runs_lock_inside_a_folder_is_not_its_content(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "._teacher.lock").write_text("")  # a killed sub-run's lock, inside its parent
    (out / "_teacher").mkdir()
    with claim(out, "distilled-model", {}, scratch={"_teacher"}) as taken:
        assert taken.state == "fresh"


def test_another_commands_output_is_named_by_its_own_record(tmp_path):
    for name, words in (("run.json", "holds an eval run (run.json)"),
                        ("testbed.json", "holds a testbed (testbed.json)")):  # fmt: skip
        folder = tmp_path / name
        folder.mkdir()
        (folder / name).write_text("{}")
        with pytest.raises(OutputRefused, match=re.escape(words)) as refused:
            claim(folder, "dataset", {}, overwrite=True)
        assert not refused.value.overwrite_helps

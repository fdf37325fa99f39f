"""A run holding the deploy lock reads its hot files once: what it wrote or read is what it reads next."""
from __future__ import annotations

from pathlib import Path

from swiftlib.workspace import LocalWorkspace, Remembering


class Counting(LocalWorkspace):
    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.reads: list[str] = []

    def read(self, name: str) -> str | None:
        self.reads.append(name)
        return super().read(name)

    def sync_dir(self, *args) -> bool:  # stands for any operation that may touch files behind the cache
        return True


def test_a_remembered_file_is_read_once_and_then_as_written(tmp_path):
    inner = Counting(tmp_path)
    ws = Remembering(inner, frozenset({"state.json"}))
    assert ws.read("state.json") is None and ws.read("state.json") is None
    ws.write("state.json", "{}")
    assert ws.read("state.json") == "{}" and (tmp_path / "state.json").read_text() == "{}"
    assert ws.remove("state.json") is True and ws.read("state.json") is None
    assert inner.reads == ["state.json"] and ws.root == inner.root


def test_other_files_are_always_read_from_the_host(tmp_path):
    inner = Counting(tmp_path)
    ws = Remembering(inner, frozenset({"state.json"}))
    (tmp_path / "other").write_text("a")
    assert ws.read("other") == "a"
    (tmp_path / "other").write_text("b")
    assert ws.read("other") == "b" and inner.reads == ["other", "other"]


def test_an_operation_it_does_not_know_forgets_what_it_kept(tmp_path):
    inner = Counting(tmp_path)
    ws = Remembering(inner, frozenset({"state.json"}))
    ws.write("state.json", "{}")
    assert ws.sync_dir("policies", "policies") is True
    (tmp_path / "state.json").write_text('{"changed": true}')  # what that operation might have done
    assert ws.read("state.json") == '{"changed": true}'


def test_a_failed_write_leaves_the_file_unknown(tmp_path):
    class Failing(Counting):
        def write(self, name: str, text: str) -> None:
            raise OSError("disk full")

    inner = Failing(tmp_path)
    ws = Remembering(inner, frozenset({"state.json"}))
    assert ws.read("state.json") is None
    try:
        ws.write("state.json", "{}")
    except OSError:
        pass
    assert ws.read("state.json") is None and inner.reads == ["state.json", "state.json"]

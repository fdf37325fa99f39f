"""Paths stay inside the project directory on the local side, after symbolic links are resolved.

The manifest refuses absolute paths and '..' at load (test_manifest.py); these are the runtime
checks behind it: a link planted in the project (a committed ``history.jsonl -> /elsewhere``, a
linked directory) must not lead a write, an append or a removal out of the project.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from swiftlib.audit.log import AuditLog
from swiftlib.errors import ConfigError, UsageError
from swiftlib.fileio import locked_append_line
from swiftlib.workspace import LocalWorkspace, inside


@pytest.fixture
def layout(tmp_path: Path) -> tuple[Path, Path]:
    """(project, outside): outside holds a file that must survive every test."""
    project = tmp_path / "project"
    project.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.conf").write_text("precious\n")
    return project, outside


def _untouched(outside: Path) -> None:
    assert sorted(os.listdir(outside)) == ["keep.conf"]
    assert (outside / "keep.conf").read_text() == "precious\n"


@pytest.mark.parametrize("name", ["/tmp/x.md", "../x.md", "a/../../x.md", ".", "", "a/.."])
def test_workspace_refuses_names_outside_or_equal_to_the_project(layout, name):
    project, outside = layout
    ws = LocalWorkspace(project)
    with pytest.raises(UsageError, match="outside the project directory"):
        ws.path(name)
    with pytest.raises(UsageError):
        ws.write(name, "owned\n")
    with pytest.raises(UsageError):
        ws.remove(name)
    assert os.listdir(project) == []


def test_workspace_write_and_remove_do_not_go_through_a_linked_directory(layout):
    project, outside = layout
    (project / ".swiftdeploy").symlink_to(outside)
    (project / "deep").mkdir()
    (project / "deep" / "up").symlink_to(outside)
    ws = LocalWorkspace(project)
    for name in (".swiftdeploy/state.json", ".swiftdeploy/keep.conf", "deep/up/new/x.yml"):
        with pytest.raises(UsageError, match="resolves to .*not inside the project directory"):
            ws.write(name, "owned\n")
        with pytest.raises(UsageError, match="not inside the project directory"):
            ws.remove(name)
    _untouched(outside)
    # A link as the last component is the entry itself: a write replaces it, a removal unlinks it.
    (project / "docker-compose.yml").symlink_to(outside / "keep.conf")
    assert ws.remove("docker-compose.yml") is True
    (project / "docker-compose.yml").symlink_to(outside / "keep.conf")
    ws.write("docker-compose.yml", "services: {}\n")
    assert not (project / "docker-compose.yml").is_symlink()
    _untouched(outside)


def test_inside_resolves_a_directory_link(layout):
    # opa.policies_dir: a `policies -> /etc` link would have the OPA sidecar mount /etc.
    project, outside = layout
    (project / "policies").symlink_to(outside)
    (project / "self").symlink_to(project)
    (project / "real").mkdir()
    root = str(project.resolve())
    for name in ("policies", "self", "./self/"):
        with pytest.raises(UsageError, match="not inside the project directory"):
            inside(root, name)
    assert inside(root, "./real/") == os.path.join(root, "real")
    assert inside(root, "policies", follow=False) == os.path.join(root, "policies")  # the entry itself
    (project.parent / "project-link").symlink_to(project)  # the project reached through a link is fine
    assert inside(str(project.parent / "project-link"), "real") == os.path.join(root, "real")


def test_audit_append_refuses_a_linked_history(layout):
    # A committed history.jsonl symlink was followed: the audit line landed in someone else's file.
    project, outside = layout
    (project / "history.jsonl").symlink_to(outside / "keep.conf")
    for log in (AuditLog(project / "history.jsonl"), AuditLog(project / "history.jsonl", root=project)):
        with pytest.raises(ConfigError, match="symbolic link|not inside the project directory"):
            log.append("deploy", {"x": 1})
    _untouched(outside)


def test_audit_append_refuses_a_linked_lock_file(layout):
    # A dangling `history.jsonl.lock` link would have created a file outside the project.
    project, outside = layout
    (project / "history.jsonl.lock").symlink_to(outside / "created-by-swiftdeploy")
    with pytest.raises(ConfigError, match="symbolic link"):
        AuditLog(project / "history.jsonl").append("deploy", {"x": 1})
    assert not (project / "history.jsonl").exists()
    _untouched(outside)


def test_audit_append_with_root_refuses_a_linked_directory(layout):
    project, outside = layout
    (project / "logs").symlink_to(outside)
    with pytest.raises(ConfigError, match="not inside the project directory"):
        AuditLog(project / "logs" / "history.jsonl", root=project).append("deploy", {"x": 1})
    with pytest.raises(ConfigError, match="outside the project directory"):
        AuditLog(outside / "history.jsonl", root=project).append("deploy", {"x": 1})
    _untouched(outside)


def test_audit_append_to_a_regular_history_inside_the_project_works(layout):
    project, _ = layout
    (project / "logs").mkdir()
    log = AuditLog(project / "logs" / "history.jsonl", root=project)
    first = log.append("deploy", {"x": 1})
    second = log.append("deploy", {"x": 2})
    assert [e["hash"] for e in log.read()] == [first["hash"], second["hash"]]
    assert log.verify().ok


def test_locked_append_line_never_opens_through_a_link(layout):
    # The effect layer itself (O_NOFOLLOW), so no check-then-open race is left for the history.
    project, outside = layout
    (project / "history.jsonl").symlink_to(outside / "keep.conf")
    with pytest.raises(OSError):
        locked_append_line(project / "history.jsonl", lambda last: "line")
    (project / "history.jsonl").unlink()
    (project / "history.jsonl.lock").unlink()  # the regular lock file the first call made
    (project / "history.jsonl.lock").symlink_to(outside / "created-by-swiftdeploy")
    with pytest.raises(ConfigError, match="history.jsonl.lock: is a symbolic link"):
        locked_append_line(project / "history.jsonl", lambda last: "line")
    assert not (project / "history.jsonl").exists()
    _untouched(outside)

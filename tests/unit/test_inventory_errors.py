"""Malformed inventories: every error names the file and the line, and exits 2."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

from swiftlib.errors import InventoryError
from swiftlib.inventory import load_inventory

MALFORMED = Path(__file__).resolve().parents[1] / "fixtures" / "inventories" / "malformed"

CASES = {
    "unterminated_range.ini": (3, "unterminated host range"),
    "bad_section.ini": (2, "invalid section header '[web servers]'"),
    "unknown_section_type.ini": (4, "unknown type 'kids'"),
    "undefined_child.ini": (6, "includes undefined group 'missing'"),
    "host_var_without_eq.ini": (3, "expected key=value host variable after 'web2'"),
    "vars_without_eq.ini": (5, "expected key=value in [web:vars]"),
    "vars_for_undefined_group.ini": (4, "[nope:vars]"),
    "range_width.ini": (2, "same number of digits"),
    "range_step_zero.ini": (3, "positive integer"),
    "children_loop.ini": (4, "creates a loop"),
    "trailing_colon.ini": (3, "reserved for a port"),
    "invalid_port.ini": (2, "ansible_port must be an integer 1-65535, got '80a'"),
    "invalid_group_port.ini": (5, "got 70000"),
    "bad_indent.yml": (6, "invalid YAML"),
    "hosts_list.yml": (4, "`hosts:` must be a mapping"),
    "yaml_unterminated_range.yml": (3, "unterminated host range"),
    "yaml_int_host.yml": (3, "must be a string; quote numbers"),
    "yaml_not_mapping.yml": (1, "must be a mapping of group names"),
    "plugin_config.yml": (1, "plugin configuration files are not supported"),
    "overrides_not_mapping.yml": (3, "swiftdeploy_overrides must be a mapping"),
    "vaulted_value.yml": (4, "!vault"),
    "native_unknown_key.yml": (4, "unknown key 'adress'"),
    "native_undefined_host.yml": (5, "'web9' is not defined under hosts:"),
    "native_undefined_child.yml": (5, "'db' is not defined under groups:"),
    "native_bad_port.yml": (4, "got '22x'"),
    "alias_bomb.yml": (8, "more than 500,000 YAML nodes once aliases are expanded (MAX_YAML_NODES)"),
    "recursive_alias.yml": (4, "alias *loop is used inside the value it names"),
    "duplicate_var.yml": (5, "duplicate key 'ansible_user' (first at line 3); keep only one"),
    "duplicate_group.yml": (9, "duplicate key 'web' (first at line 3)"),
    "duplicate_host.yml": (4, "duplicate key 'ansible_host' (first at line 4)"),
    "native_duplicate_host.yml": (4, "duplicate key 'web1' (first at line 2)"),
}


def test_every_malformed_fixture_has_a_case() -> None:
    assert {p.name for p in MALFORMED.iterdir()} == set(CASES)


@pytest.mark.parametrize("name", sorted(CASES))
def test_error_names_file_and_line(name: str) -> None:
    line, fragment = CASES[name]
    path = MALFORMED / name
    with pytest.raises(InventoryError) as info:
        load_inventory(path)
    err = info.value
    assert (err.path, err.line) == (str(path), line)
    assert str(err).startswith(f"{path}:{line}: ")
    assert fragment in str(err)
    assert err.exit_code == 2


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InventoryError, match="not found"):
        load_inventory(tmp_path / "nope.ini")
    with pytest.raises(InventoryError, match="directories are not supported"):
        load_inventory(tmp_path)


def test_executable_script_is_refused(tmp_path: Path) -> None:
    script = tmp_path / "inventory.py"
    script.write_text("#!/usr/bin/env python3\nprint('{}')\n")
    script.chmod(0o755)
    with pytest.raises(InventoryError, match="scripts are not supported"):
        load_inventory(script)


def test_vault_file_and_bad_utf8(tmp_path: Path) -> None:
    vaulted = tmp_path / "hosts"
    vaulted.write_text("$ANSIBLE_VAULT;1.1;AES256\n6162\n")
    with pytest.raises(InventoryError, match="vault-encrypted"):
        load_inventory(vaulted)
    latin = tmp_path / "latin.ini"
    latin.write_bytes(b"[web]\nweb1\ncaf\xe9\n")
    with pytest.raises(InventoryError) as info:
        load_inventory(latin)
    assert info.value.line == 3


# -- what stands where the inventory should be ------------------------------------------------

def test_a_fifo_named_as_inventory_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "hosts.ini"
    os.mkfifo(fifo)
    with pytest.raises(InventoryError, match="FIFO.*not a regular file"):
        load_inventory(fifo)  # opening it to read would wait for a writer forever


def test_a_symlink_out_of_its_directory_is_read_but_never_quoted(tmp_path):
    secret = tmp_path / "elsewhere" / "shadow"
    secret.parent.mkdir()
    secret.write_text("root:$6$secrethash:19000:0:99999:7:::\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "hosts.ini").symlink_to(secret)
    with pytest.raises(InventoryError) as info:
        load_inventory(project / "hosts.ini")
    assert "secrethash" not in str(info.value)
    assert info.value.line == 1 and "symbolic link" in str(info.value) and str(secret) in str(info.value)


def test_a_symlink_out_of_its_directory_still_works_when_valid(tmp_path):
    shared = tmp_path / "shared.ini"
    shared.write_text("[web]\nweb1 ansible_host=10.0.0.1\n")
    project = tmp_path / "project"
    project.mkdir()
    (project / "hosts.ini").symlink_to(shared)
    assert [h.name for h in load_inventory(project / "hosts.ini").hosts.values()] == ["web1"]


def test_a_symlink_inside_its_directory_is_quoted_as_usual(tmp_path):
    (tmp_path / "real.ini").write_text("[web]\nbad: \n")
    (tmp_path / "hosts.ini").symlink_to(tmp_path / "real.ini")
    with pytest.raises(InventoryError, match="ends in ':'"):
        load_inventory(tmp_path / "hosts.ini")

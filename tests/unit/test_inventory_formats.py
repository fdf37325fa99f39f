"""INI typing, format detection, the native format and manifest overrides."""
from __future__ import annotations

from pathlib import Path

import pytest

from swiftlib.inventory import detect_format, load_inventory, parse_inventory
from swiftlib.inventory.ansible_ini import parse_value

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "inventories"


@pytest.mark.parametrize("text,value", [
    ("22", 22), ("yes", "yes"), ("True", True), ("None", None), ("1.5", 1.5), ("0x1F", 31),
    ("[1, 'a']", [1, "a"]), ("(1, 2)", [1, 2]), ("{'k': (1,)}", {"k": [1]}), ("'quoted'", "quoted"),
    ("blue # x", "blue # x"), ("1+2j", "(1+2j)"), ("...", "..."), ("b'raw'", "raw"), ("{1, 2}", [1, 2]),
])
def test_ini_values_are_python_literals(text: str, value: object) -> None:
    assert parse_value(text) == value
    assert type(parse_value(text)) is type(value)


def test_ini_host_line_values_are_shell_unquoted_first() -> None:
    inv = parse_inventory('h1 a="x y" b=\'1\' c="True" d=yes port=22 # comment\n', "inv.ini")
    assert inv.hosts["h1"].vars == {"a": "x y", "b": 1, "c": True, "d": "yes", "port": 22}


def test_ini_group_var_line_keeps_raw_text() -> None:
    inv = parse_inventory('[g]\nh\n[g:vars]\nq="x y"\nraw = a b # c\n', "inv.ini")
    assert inv.hosts["h"].vars == {"q": "x y", "raw": "a b # c"}


def test_first_port_wins_like_ansible() -> None:
    inv = parse_inventory("[a]\nweb:2222\n[b]\nweb:3333\n", "inv.ini")
    assert inv.hosts["web"].port == 2222


@pytest.mark.parametrize("name,fmt", [
    ("01_basic.ini", "ini"), ("17_basic.yml", "ansible-yaml"), ("26_noext_ini", "ini"),
    ("27_noext_yaml", "ansible-yaml"), ("28_json.json", "ansible-yaml"),
    ("native/simple.yml", "native"), ("native/hosts_only.yml", "native"),
])
def test_detect_format(name: str, fmt: str) -> None:
    path = FIXTURES / name
    assert detect_format(path.read_text(encoding="utf-8"), str(path)) == fmt


def test_ansible_group_called_hosts_is_not_native() -> None:
    text = "hosts:\n  hosts:\n    h1:\n  vars:\n    x: 1\n"
    assert detect_format(text, "inv.yml") == "ansible-yaml"
    assert parse_inventory(text, "inv.yml").groups["hosts"].hosts == ("h1",)


def test_native_inventory_resolves_like_ansible_vars() -> None:
    inv = load_inventory(FIXTURES / "native" / "simple.yml")
    web1, web2, ctl = inv.hosts["web1"], inv.hosts["web2"], inv.hosts["ctl"]
    assert (web1.address, web1.port, web1.user, web1.key_file) == ("10.0.0.11", 2222, "deploy", "~/.ssh/deploy_ed25519")
    assert (web2.user, web2.port) == ("admin", None)
    assert (ctl.connection, ctl.address) == ("local", "ctl")
    assert web1.vars["role"] == "web" and web1.vars["ansible_host"] == "10.0.0.11"
    assert web1.groups == ("prod", "web")
    assert inv.groups["ungrouped"].hosts == ("ctl",)
    assert inv.groups["all"].children == ("ungrouped", "prod")


def test_overrides_deep_merge_in_precedence_order() -> None:
    inv = load_inventory(FIXTURES / "native" / "simple.yml")
    assert inv.hosts["web1"].manifest_overrides() == {"nginx": {"port": 8081, "workers": 2}, "app": {"replicas": 2}}
    assert inv.hosts["web2"].manifest_overrides() == {"nginx": {"port": 8081, "workers": 8}, "app": {"replicas": 2}}
    assert inv.hosts["ctl"].manifest_overrides() == {"nginx": {"port": 8080, "workers": 2}}
    copy = inv.hosts["web1"].manifest_overrides()
    copy["nginx"]["port"] = 1
    assert inv.hosts["web1"].manifest_overrides()["nginx"]["port"] == 8081


def test_overrides_from_ansible_yaml_deep_merge_but_hostvars_replace() -> None:
    inv = load_inventory(FIXTURES / "25_overrides.yml")
    pw1, pw2 = inv.hosts["pw1"], inv.hosts["pw2"]
    assert pw1.manifest_overrides() == {"nginx": {"port": 8081, "workers": 4}, "app": {"replicas": 3}}
    assert pw2.manifest_overrides() == {"nginx": {"port": 8081, "workers": 4}, "app": {"replicas": 1}}
    # Ansible's own hostvars replace whole top-level values (hash_behaviour=replace)
    assert pw2.vars["swiftdeploy_overrides"] == {"nginx": {"workers": 4}}


def test_same_depth_groups_merge_alphabetically_and_priority_overrides() -> None:
    inv = load_inventory(FIXTURES / "04_sibling_conflicts.ini")
    assert inv.hosts["shared"].vars == {"color": "zeta", "size": "large", "weight": 1}
    inv = load_inventory(FIXTURES / "14_group_priority.ini")
    assert inv.hosts["h1"].vars["winner"] == "low"
    assert "ansible_group_priority" not in inv.groups["low"].vars

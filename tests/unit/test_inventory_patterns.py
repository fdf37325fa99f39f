"""Ansible's pattern language over the model (the oracle test checks it against Ansible)."""
from __future__ import annotations

from pathlib import Path

import pytest

from swiftlib.errors import InventoryError, UsageError
from swiftlib.inventory import load_inventory, parse_inventory
from swiftlib.inventory.patterns import order_terms, split_pattern

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "inventories"


@pytest.fixture(scope="module")
def inv():
    return load_inventory(FIXTURES / "12_multi_group.ini")


def names(inv, pattern):
    return [h.name for h in inv.select(pattern)]


@pytest.mark.parametrize("pattern,terms", [
    ("web:&prod:!db1", ["web", "&prod", "!db1"]),
    ("a, b ,c", ["a", "b", "c"]),
    ("web[1:3]", ["web[1:3]"]),
    ("2001:db8::1", ["2001:db8::1"]),
    ("~web:db", ["~web", "db"]),
])
def test_split(pattern, terms):
    assert split_pattern(pattern) == terms


def test_order_unions_then_intersections_then_exclusions():
    assert order_terms(["!x", "&y", "a", "b"]) == ["a", "b", "&y", "!x"]
    assert order_terms(["!x"]) == ["all", "!x"]


def test_select_keeps_ansible_order(inv):
    assert names(inv, None) == ["shared1", "shared2", "f1", "b1"]
    assert names(inv, "backend,frontend") == ["shared2", "shared1", "b1", "f1"]
    assert names(inv, "!frontend") == ["b1"]
    assert names(inv, "monitoring:!b1:&frontend") == ["shared1", "shared2", "f1"]


def test_glob_regex_and_subscript(inv):
    assert names(inv, "shared*") == ["shared1", "shared2"]
    assert names(inv, "~^[fb]1$") == ["f1", "b1"]
    assert names(inv, "monitoring[1:2]") == ["shared2", "b1"]
    assert names(inv, "monitoring[-1]") == ["f1"]


def test_an_open_ended_subscript_runs_to_the_last_host():
    """`web[5:]` is the sixth host of `web` to the last one, as Ansible selects it (app1 app4 app7
    app10). Only the Ansible oracle in the integration tier used an open-ended subscript, so a
    mutant that stopped one host short survived the unit tier."""
    ranges = load_inventory(FIXTURES / "02_ranges.ini")
    assert names(ranges, "web[5:]") == ["app1", "app4", "app7", "app10"]
    assert names(ranges, "web[8:]") == ["app10"]


def test_a_regex_that_matches_a_group_still_matches_host_names(inv):
    """Ansible matches a `~regex` against host names even when it matched a group (another term
    only when it holds one of `. ? * [`). `~frontend|b1` matches the group frontend and the
    host b1, which is not in it; no unit case had a regex matching both, so a mutant that
    stopped at the group survived the unit tier. Orders as Ansible lists them."""
    assert names(inv, "~frontend|b1") == ["shared1", "shared2", "f1", "b1"]
    assert names(inv, "~backend|f1") == ["shared2", "shared1", "b1", "f1"]


@pytest.mark.parametrize("pattern,message", [
    ("frontnd", "'frontnd' matches no group and no host"),
    ("all:!monitorng", "'monitorng' matches no group"),
    ("frontend:&backend:!shared*", "selects no host"),
    ("monitoring[9]", "out of range"),
    ("~(", "invalid pattern"),
    ("@hosts.txt", "@file limits are not supported"),
    (" , ", "empty host pattern"),
])
def test_refusals(inv, pattern, message):
    with pytest.raises(UsageError, match=message) as info:
        inv.select(pattern)
    assert info.value.exit_code == 2


def test_unsupported_connection_is_listed_but_not_selected():
    inv = parse_inventory("[win]\nw1 ansible_connection=winrm\n[lin]\nl1\n", "inv.ini")
    assert inv.hosts["w1"].connection == "winrm"
    assert names(inv, "lin") == ["l1"]
    with pytest.raises(InventoryError, match="winrm"):
        inv.select("all")

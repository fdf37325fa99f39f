"""Hostile inventories: each limit is refused with file, line and the limit's name
(exit 2), before the expensive step, instead of hanging or eating memory."""
from __future__ import annotations

import time
from pathlib import Path

import pytest

from swiftlib.errors import InventoryError, UsageError
from swiftlib.inventory import load_inventory, parse_inventory, patterns
from swiftlib.inventory.limits import (
    MAX_ENTRIES,
    MAX_FILE_BYTES,
    MAX_GROUP_DEPTH,
    MAX_GROUPS,
    MAX_HOSTS,
    MAX_NAME_LENGTH,
    MAX_REGEX_CHOICES,
    MAX_REGEX_LENGTH,
    MAX_YAML_DEPTH,
)
from swiftlib.inventory.output import to_ansible_list, to_graph


def refused(text: str, path: str = "inv.ini") -> InventoryError:
    with pytest.raises(InventoryError) as info:
        parse_inventory(text, path)
    assert info.value.exit_code == 2
    return info.value


@pytest.mark.parametrize("pattern", ["h[0:99999999]", "h[0:9999][0:9999]", f"h[1:{MAX_HOSTS + 1}]"])
def test_a_range_beyond_max_hosts_is_refused_before_expanding(pattern: str) -> None:
    err = refused(f"[web]\nweb1\n{pattern}\n")
    assert (err.path, err.line) == ("inv.ini", 3)
    assert "MAX_HOSTS" in str(err) and f"{MAX_HOSTS:,}" in str(err)


def test_a_range_beyond_max_hosts_is_refused_in_yaml_too() -> None:
    err = refused("all:\n  hosts:\n    h[0:99999999]:\n", "inv.yml")
    assert (err.line, "MAX_HOSTS" in str(err)) == (3, True)


def test_ranges_adding_up_beyond_max_hosts_are_refused() -> None:
    half = MAX_HOSTS // 2
    err = refused(f"[a]\na[1:{half}]\n[b]\nb[1:{half}]\n[c]\nc1\n")
    assert err.line == 6 and "MAX_HOSTS" in str(err)


def test_max_hosts_itself_is_accepted_and_linear() -> None:
    text = "".join(f"[g{i}]\nh[1:{MAX_HOSTS}]\n" for i in range(4))  # every host in four groups
    start = time.monotonic()
    inv = parse_inventory(text, "inv.ini")
    selected = inv.select("g0:g1:g2:g3")
    elapsed = time.monotonic() - start
    assert len(inv.hosts) == len(selected) == MAX_HOSTS
    assert inv.groups["g3"].hosts[-1] == f"h{MAX_HOSTS}"
    assert elapsed < 5, f"{MAX_HOSTS} hosts in four groups took {elapsed:.1f}s (quadratic?)"


def test_repeated_host_lines_are_bounded_by_max_entries() -> None:
    lines = MAX_ENTRIES // MAX_HOSTS + 1
    err = refused("[web]\n" + f"h[1:{MAX_HOSTS}]\n" * lines)
    assert err.line == lines + 1 and "MAX_ENTRIES" in str(err)


def test_variable_assignments_count_towards_max_entries() -> None:
    host_vars = " ".join(f"v{i}=1" for i in range(MAX_ENTRIES // MAX_HOSTS))
    err = refused(f"[web]\nh[1:{MAX_HOSTS}] {host_vars}\n")
    assert err.line == 2 and "MAX_ENTRIES" in str(err)


# -- YAML ---------------------------------------------------------------------

def test_yaml_nested_beyond_max_yaml_depth_is_refused() -> None:
    err = refused("all:\n  vars:\n    deep: " + "[" * 5000 + "]" * 5000 + "\n  hosts:\n    web1:\n", "inv.yml")
    assert err.line == 3 and f"nested more than {MAX_YAML_DEPTH} levels deep (MAX_YAML_DEPTH)" in str(err)


def test_an_alias_bomb_is_refused_while_reading() -> None:
    levels = ["    l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n"]
    levels += [f"    l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 10)}]\n" for i in range(1, 9)]
    start = time.monotonic()
    err = refused("all:\n  vars:\n" + "".join(levels) + "  hosts:\n    web1:\n", "inv.yml")
    assert "MAX_YAML_NODES" in str(err) and err.line == 3 + 5  # l5 holds 10^6 values
    assert time.monotonic() - start < 5


def test_anchors_aliases_and_merge_keys_still_work() -> None:
    inv = parse_inventory(
        "all:\n"
        "  vars:\n"
        "    base: &base {ansible_user: ops, timeout: 30}\n"
        "    users: &users [" + ", ".join(f"u{i}" for i in range(100)) + "]\n"
        "  hosts:\n" + "".join(f"    h{i}: {{<<: *base, timeout: {i}, list: *users}}\n" for i in range(1000)),
        "inv.yml")
    assert inv.hosts["h7"].vars["timeout"] == 7 and inv.hosts["h7"].vars["ansible_user"] == "ops"
    assert len(inv.hosts["h999"].vars["list"]) == 100


@pytest.mark.parametrize("text,line,key", [
    ("all:\n  hosts:\n    web1: {a: 1, b: 2, a: 3}\n", 3, "'a'"),
    ("all:\n  vars:\n    nested:\n      x: 1\n      x: 2\n  hosts:\n    web1:\n", 5, "'x'"),
    ("all:\n  hosts:\n    web1:\n    web2:\n    web1:\n", 5, "'web1'"),
    ("all:\n  hosts:\n    web1:\n  hosts:\n    web2:\n", 4, "'hosts'"),
    ("all:\n  hosts:\n    web1: {1: a, 0x1: b}\n", 3, "1"),
])
def test_duplicate_keys_are_refused_with_both_lines(text: str, line: int, key: str) -> None:
    err = refused(text, "inv.yml")
    assert err.line == line and f"duplicate key {key} (first at line" in str(err)


def test_duplicate_keys_are_refused_without_an_extension_too() -> None:
    err = refused("all:\n  hosts:\n    web1:\n    web1:\n", "hosts")
    assert err.line == 4 and "duplicate key 'web1'" in str(err)


def test_the_same_group_under_two_parents_is_no_duplicate() -> None:
    inv = parse_inventory("all:\n  children:\n    eu:\n      children:\n        web:\n"
                          "    prod:\n      children:\n        web:\n          hosts:\n            w1:\n", "inv.yml")
    assert inv.hosts["w1"].groups == ("eu", "prod", "web")


# -- names and --limit regexes ------------------------------------------------

def test_names_beyond_max_name_length_are_refused() -> None:
    ok = "h" * MAX_NAME_LENGTH
    assert list(parse_inventory(f"[g]\n{ok}\n", "inv.ini").hosts) == [ok]
    err = refused(f"[g]\nweb1\n{ok}x\n")
    assert err.line == 3 and "MAX_NAME_LENGTH" in str(err)
    err = refused(f"all:\n  children:\n    {ok}x:\n", "inv.yml")
    assert err.line == 3 and "group name" in str(err) and "MAX_NAME_LENGTH" in str(err)


@pytest.fixture(scope="module")
def long_names():
    return parse_inventory("[web]\n" + "a" * 60 + "b\nweb01.example.com\ndb01.example.com\n"
                           "10.0.0.1\n[db]\ndb01.example.com\n", "inv.ini")


@pytest.mark.parametrize("pattern,why", [
    ("~(a+)+$", "repeats without bound a group that itself repeats or alternates"),
    ("~(a|aa)*c", "repeats without bound a group"),
    ("~(\\w+\\.)*com", "repeats without bound a group"),
    ("~.*.*.*.*.*b", f"more than {MAX_REGEX_CHOICES} (MAX_REGEX_CHOICES)"),
    ("~a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?a?aaaaaaaaaaaaaaaaaaaaa", "MAX_REGEX_CHOICES"),
    ("~(a?){30}a{30}", "MAX_REGEX_CHOICES"),
    ("~" + "(a|a)" * 40 + "b", "MAX_REGEX_CHOICES"),
    ("~web" + "x" * MAX_REGEX_LENGTH, "(MAX_REGEX_LENGTH)"),
])
def test_regexes_that_can_backtrack_for_long_are_refused_quickly(long_names, pattern: str, why: str) -> None:
    start = time.monotonic()
    with pytest.raises(UsageError) as info:
        long_names.select(pattern)
    assert time.monotonic() - start < 1
    assert info.value.exit_code == 2 and why in str(info.value) and repr(pattern) in str(info.value)


@pytest.mark.parametrize("pattern,hosts", [
    ("~web\\d+", ["web01.example.com"]),
    ("~(web|db).*\\.example\\.com", ["web01.example.com", "db01.example.com"]),
    ("~^(web|db)-?\\d+\\.(example|test)", ["web01.example.com", "db01.example.com"]),
    ("~(\\d+\\.){3}\\d+$", ["10.0.0.1"]),  # Ansible splits patterns on commas: no {m,n}
    ("~a{60}b", ["a" * 60 + "b"]),
    ("~d.*:&~.*com$", ["db01.example.com"]),
])
def test_regexes_as_written_for_ansible_still_work(long_names, pattern: str, hosts: list[str]) -> None:
    assert [h.name for h in long_names.select(pattern)] == hosts


def test_regex_matching_stops_after_max_regex_seconds(long_names, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(patterns, "MAX_REGEX_SECONDS", -1.0)
    with pytest.raises(UsageError, match="MAX_REGEX_SECONDS"):
        long_names.select("~web")
    globbed = [h.name for h in long_names.select("*.com")]  # globs are not timed
    assert globbed == ["web01.example.com", "db01.example.com"]


# -- file size, groups and resolving -----------------------------------------

def test_a_file_beyond_max_file_bytes_is_not_read_whole(tmp_path: Path) -> None:
    big = tmp_path / "hosts.ini"
    big.write_bytes(b"[web]\nweb1\n" + b"#" * MAX_FILE_BYTES)
    with pytest.raises(InventoryError, match="MAX_FILE_BYTES") as info:
        load_inventory(big)
    assert info.value.path == str(big)
    with pytest.raises(InventoryError, match="character device, not a regular file"):
        load_inventory("/dev/zero")  # refused before a byte is read


def test_groups_beyond_max_groups_are_refused() -> None:
    err = refused("".join(f"[g{i}]\n" for i in range(MAX_GROUPS)))
    assert err.line == MAX_GROUPS - 1 and "MAX_GROUPS" in str(err)  # with `all` and `ungrouped`


def chain(depth: int, hosts: str = "h1") -> str:
    """Groups g1 > g2 > ... > g<depth>, `hosts` in the last."""
    return "".join(f"[g{i}:children]\ng{i + 1}\n" for i in range(1, depth)) + f"[g{depth}]\n{hosts}\n"


def test_groups_nested_beyond_max_group_depth_are_refused() -> None:
    inv = parse_inventory(chain(MAX_GROUP_DEPTH), "inv.ini")
    assert len(inv.hosts["h1"].groups) == MAX_GROUP_DEPTH
    assert len(to_graph(inv).splitlines()) == MAX_GROUP_DEPTH + 3  # all, ungrouped, h1
    for depth in (MAX_GROUP_DEPTH + 1, 3000):  # 3000 used to exhaust Python's recursion
        err = refused(chain(depth))
        assert err.line == 2 * MAX_GROUP_DEPTH + 1 and "MAX_GROUP_DEPTH" in str(err)


def test_memberships_beyond_max_memberships_are_refused() -> None:
    err = refused(chain(MAX_GROUP_DEPTH, f"h[1:{MAX_HOSTS}]"))  # each host is in 100 groups and `all`
    assert err.line == 2 * MAX_GROUP_DEPTH - 1 and "MAX_MEMBERSHIPS" in str(err)


def test_many_groups_sharing_descendants_stay_fast() -> None:
    width, layers = 100, 45  # each layer's groups all lead through one hub to the next layer
    text = "".join(f"[hub{k}:children]\n" + "".join(f"l{k}_{j}\n" for j in range(width))
                   + "".join(f"[l{k}_{j}:children]\nhub{k + 1}\n" for j in range(width)) for k in range(layers))
    start = time.monotonic()
    inv = parse_inventory(text + f"[hub{layers}]\nh[1:50]\n", "inv.ini")
    assert len(inv.select("l*")) == 50 and len(to_ansible_list(inv)["_meta"]["hostvars"]) == 0
    assert time.monotonic() - start < 3, "quadratic in the number of groups?"


def test_a_graph_printing_a_group_once_per_path_is_bounded() -> None:
    ladder = "".join(f"[a{i}:children]\na{i + 1}\nb{i + 1}\n[b{i}:children]\na{i + 1}\nb{i + 1}\n" for i in range(40))
    inv = parse_inventory(ladder + "[a40]\nh1\n[b40]\n", "inv.ini")
    start = time.monotonic()
    with pytest.raises(InventoryError, match="MAX_GRAPH_LINES"):
        to_graph(inv)
    assert time.monotonic() - start < 1
    assert inv.group_hosts("all") == ["h1"]


def test_group_vars_applied_to_many_hosts_are_bounded_by_max_hostvars_size() -> None:
    levels = ["    l0: &l0 [xxxxxxxxxx, xxxxxxxxxx, xxxxxxxxxx, xxxxxxxxxx, xxxxxxxxxx]\n"]
    levels += [f"    l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 5)}]\n" for i in range(1, 7)]  # 5^7 values
    text = "all:\n  vars:\n" + "".join(levels) + "  hosts:\n    h[1:200]:\n"
    inv = parse_inventory(text.replace("h[1:200]", "h[1:2]"), "inv.yml")  # 2 hosts: 2.5 MB
    assert len(inv.hosts["h1"].vars["l6"]) == 5
    start = time.monotonic()
    err = refused(text, "inv.yml")
    assert "MAX_HOSTVARS_SIZE" in str(err) and err.line == 11
    assert time.monotonic() - start < 5

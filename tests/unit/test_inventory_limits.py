"""Hostile inventories: each limit is refused with file, line and the limit's name
(exit 2), before the expensive step, instead of hanging or eating memory."""
from __future__ import annotations

import time

import pytest

from swiftlib.errors import InventoryError
from swiftlib.inventory import parse_inventory
from swiftlib.inventory.limits import MAX_ENTRIES, MAX_HOSTS


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

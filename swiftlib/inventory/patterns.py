"""Ansible's host-pattern (`--limit`) language over the inventory model.

Terms are split on `,` (or on `:` when the whole pattern is no address); each term
is a host, a group, a glob (`web*`), a regex (`~web\\d+`), optionally prefixed by
`&` (intersection) or `!` (exclusion) and optionally subscripted (`web[0]`,
`web[1:3]`). Like Ansible, unions are applied first, then intersections, then
exclusions, whatever their written order; a pattern of only `&`/`!` terms starts
from `all`.

Unlike Ansible (which warns and carries on), a term that matches no group and no
host raises UsageError: a typo in `all:!prdo` must not deploy to prod. So does a
pattern that selects no host at all.

A `~regex` cannot hang the run by catastrophic backtracking (`~(a+)+$`): before it
is used, regexguard.check_regex refuses one longer than MAX_REGEX_LENGTH, one with
nested quantifiers, and one with more than MAX_REGEX_CHOICES choices (limits.py),
which bounds what one name can cost, and names are at most MAX_NAME_LENGTH long
(refused when the inventory is read). Matching all names may then take at most
MAX_REGEX_SECONDS, checked after each name. Each refusal is a UsageError (exit 2)
naming the limit. Regexes as Ansible users write them (`~web\\d+`,
`~(web|db).*\\.example\\.com`) are well within these limits.
"""
from __future__ import annotations

import fnmatch
import re
import time
from typing import TYPE_CHECKING, Callable

from swiftlib.errors import UsageError
from swiftlib.inventory.limits import MAX_REGEX_SECONDS
from swiftlib.inventory.ranges import parse_address
from swiftlib.inventory.regexguard import check_regex

if TYPE_CHECKING:
    from swiftlib.inventory.model import Inventory

_SUBSCRIPT = re.compile(r"^(.+)\[(?:(-?[0-9]+)|([0-9]+)([:-])([0-9]*))\]$")
_COLON_TERMS = re.compile(r"(?:[^\s:\[\]]|\[[^\]]*\])+")
_SPECIAL = (".", "?", "*", "[")


def split_pattern(pattern: str) -> list[str]:
    """'web:&prod,!db1' -> ['web', '&prod', '!db1'] (Ansible's split_host_pattern)."""
    if "," in pattern:
        terms = pattern.split(",")
    elif parse_address(pattern) is not None:
        terms = [pattern]  # an IPv6 address or `host[1:3]` keeps its colons
    else:
        terms = _COLON_TERMS.findall(pattern)
    return [t.strip() for t in terms if t.strip()]


def order_terms(terms: list[str]) -> list[str]:
    plain = [t for t in terms if t[0] not in "&!"]
    both = [t for t in terms if t[0] == "&"]
    excl = [t for t in terms if t[0] == "!"]
    return (plain or ["all"]) + both + excl


def _compile(term: str, whole: str) -> Callable[[str], bool]:
    """A matcher for a glob or `~regex` term; a regex's is bounded (module docstring)."""
    try:
        if not term.startswith("~"):
            glob = re.compile(fnmatch.translate(term))
            return lambda name: glob.match(name) is not None
        check_regex(term[1:])
        regex = re.compile(term[1:])
    except re.error as exc:
        raise UsageError(f"--limit {whole!r}: invalid pattern {term!r}: {exc}") from None
    except ValueError as exc:
        raise UsageError(f"--limit {whole!r}: regex {term!r} is refused: {exc}") from None
    deadline = time.monotonic() + MAX_REGEX_SECONDS

    def match(name: str) -> bool:
        if time.monotonic() > deadline:
            raise UsageError(f"--limit {whole!r}: regex {term!r} took more than {MAX_REGEX_SECONDS:g}s "
                             "to match the inventory's names (MAX_REGEX_SECONDS); simplify it")
        return regex.match(name) is not None

    return match


def _match_term(inv: Inventory, term: str, whole: str) -> list[str]:
    expr, subscript = term, None
    m = _SUBSCRIPT.match(term) if not term.startswith("~") else None
    if m:
        expr, idx, start, _, end = m.groups()
        subscript = (int(idx), None) if idx else (int(start), int(end) if end else -1)
    matches = _compile(expr, whole)
    groups = [g for g in inv.groups if matches(g)]
    if subscript:  # the index counts a host once per group it is found in, as Ansible does
        found = [h for g in groups for h in inv.group_hosts(g)]
    else:
        found = inv.hosts_of(groups)
    if not groups or expr.startswith("~") or any(c in expr for c in _SPECIAL):
        found.extend(h for h in inv.hosts if matches(h))
    if not found and not groups and expr != "all":
        raise UsageError(f"--limit {whole!r}: {expr!r} matches no group and no host in the inventory")
    if subscript and found:
        start_i, end_i = subscript
        try:
            if end_i is None:
                found = [found[start_i]]
            else:
                found = found[start_i: (len(found) - 1 if end_i == -1 else end_i) + 1]
        except IndexError:
            raise UsageError(f"--limit {whole!r}: subscript in {term!r} is out of range "
                             f"({len(found)} hosts matched {expr!r})") from None
    return found


def match_hosts(inv: Inventory, pattern: str) -> list[str]:
    """Host names selected by an Ansible pattern, in Ansible's evaluation order.

    Raises UsageError for an empty pattern, a term matching nothing, an invalid
    regex, or a pattern that selects no host.
    """
    terms = split_pattern(pattern)
    if not terms:
        raise UsageError(f"--limit {pattern!r}: empty host pattern")
    if any(t.startswith("@") for t in terms):
        raise UsageError(f"--limit {pattern!r}: @file limits are not supported; list the hosts instead")
    selected: dict[str, None] = {}  # an ordered set: first selection wins the place
    for term in order_terms(terms):
        if term in inv.hosts:
            selected.setdefault(term)
            continue
        names = _match_term(inv, term[1:] if term[0] in "&!" else term, pattern)
        if term[0] == "!":
            drop = set(names)
            selected = {h: None for h in selected if h not in drop}
        elif term[0] == "&":
            keep = set(names)
            selected = {h: None for h in selected if h in keep}
        else:
            selected.update(dict.fromkeys(names))
    result = list(selected)
    if not result:
        raise UsageError(f"--limit {pattern!r} selects no host; check it with "
                         f"`inv inventory -i FILE --limit '{pattern}' --list`")
    return result

"""Refuse `~regex` host patterns whose matching could backtrack for very long.

Python's `re` backtracks: `(a+)+$` against 40 `a`s and a `b` tries 2^40 ways, and
`.*.*.*.*.*.*x` against a 255-character name about 10^11. What decides the cost is
the number of places where the regex may choose: a quantifier that is not fixed
(`*`, `+`, `?`, `{m,n}`) or an alternation (`|`). So `check_regex` refuses:

- a regex longer than MAX_REGEX_LENGTH characters;
- a group repeated without bound (`*`, `+`, `{m,}`) that itself contains a choice:
  `(a+)+`, `(a|aa)*`, `(\\w+\\.)*` (nested quantifiers: exponential);
- more than MAX_REGEX_CHOICES choices, a group repeated `{n}` counting its own n
  times: `~(web|db)-?\\d+\\.(eu|us)` has four, `~(\\d+\\.){3}\\d+` four.

Character classes (`[0-9]`, `\\d`, `(a|b)` on single characters) are no choice.
The structure comes from `re._parser`, the parser `re.compile` itself uses.
"""
from __future__ import annotations

import re._constants as _c  # private, but what re.compile uses (Python >= 3.11)
import re._parser as _p

from swiftlib.inventory.limits import MAX_REGEX_CHOICES, MAX_REGEX_LENGTH

_REPEATS = (_c.MAX_REPEAT, _c.MIN_REPEAT, _c.POSSESSIVE_REPEAT)


def _choices(sub: _p.SubPattern | list) -> int:
    count = 0
    for op, av in sub:
        if op in _REPEATS:
            low, high, item = av
            inner = _choices(item)
            if inner and high == _c.MAXREPEAT:
                raise ValueError("it repeats without bound a group that itself repeats or alternates, "
                                 "like (a+)+ or (a|aa)*: matching can take exponential time")
            count += (low != high) + inner * high
        elif op is _c.BRANCH:
            count += 1 + sum(_choices(branch) for branch in av[1])
        elif op is _c.SUBPATTERN:
            count += _choices(av[3])
        elif op is _c.ATOMIC_GROUP:
            count += _choices(av)
        elif op in (_c.ASSERT, _c.ASSERT_NOT):
            count += _choices(av[1])
        elif op is _c.GROUPREF_EXISTS:
            count += 1 + _choices(av[1]) + (_choices(av[2]) if av[2] else 0)
    return count


def check_regex(text: str) -> None:
    """Raise ValueError saying why `text` could backtrack too long (see above);
    re.error when it is no regex at all."""
    if len(text) > MAX_REGEX_LENGTH:
        raise ValueError(f"it is {len(text)} characters long, more than {MAX_REGEX_LENGTH} (MAX_REGEX_LENGTH)")
    count = _choices(_p.parse(text))
    if count > MAX_REGEX_CHOICES:
        raise ValueError(f"it has {count} choices (quantifiers such as *, +, ?, {{m,n}} and "
                         f"alternatives |), more than {MAX_REGEX_CHOICES} (MAX_REGEX_CHOICES): "
                         "matching can take very long")

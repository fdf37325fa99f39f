"""How big variables are once written out, for MAX_HOSTVARS_SIZE.

`json_size` approximates the characters `json.dumps` would print (without
indentation). A value reached through a YAML alias is one shared Python object,
however often it repeats: it is measured once (`memo`) and then counted as often
as it appears, so measuring costs the size of the file, not of the expansion.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence


def first_host_over(chains: Mapping[str, Sequence[Any]], limit: int) -> str | None:
    """The host at which the sizes of the variables of each host's layers (its
    groups, then itself: objects with `.vars`), summed over hosts, pass `limit`."""
    memo: dict[int, int] = {}
    layer_size: dict[int, int] = {}
    total = 0
    for name, layers in chains.items():
        for layer in layers:
            if id(layer) not in layer_size:
                layer_size[id(layer)] = sum(len(k) + json_size(v, memo) for k, v in layer.vars.items())
            total += layer_size[id(layer)]
        if total > limit:
            return name
    return None


def json_size(value: Any, memo: dict[int, int]) -> int:
    """Approximate JSON length of `value`; `memo` caches containers by id."""
    if isinstance(value, str):
        return len(value) + 2
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        return value.bit_length() * 3 // 10 + 2  # about its decimal digits, without converting
    if not isinstance(value, (dict, list, tuple)):
        return len(str(value))  # float, date, bytes
    known = memo.get(id(value))
    if known is None:
        if isinstance(value, dict):
            known = 2 + sum(json_size(k, memo) + json_size(v, memo) + 2 for k, v in value.items())
        else:
            known = 2 + sum(json_size(v, memo) + 1 for v in value)
        memo[id(value)] = known
    return known

"""One function on many hosts, batch by batch (``--serial``), hosts of a batch in threads.

``run_on_hosts(hosts, fn, serial=..., max_fail_percentage=...)`` calls ``fn(host)``
for every host and returns ``{host name: Outcome}`` in the hosts' order. A host's
error never reaches the others: SwiftDeployError becomes ``failed`` (or
``unreachable`` for exit code 6) with its exit code; any other exception (a bug)
becomes ``failed`` with exit code 1 and is kept in ``Outcome.error``. After a batch,
``batches.should_stop`` decides whether to go on; hosts of batches not run end
``skipped``.

``fn`` returns "ok" or "changed" (anything else counts as "ok" and is kept in
``Outcome.value``). A host's name is its ``.name`` attribute, else ``str(host)``.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Sequence

from .. import interrupt
from ..errors import SwiftDeployError
from .batches import Serial, plan_batches, should_stop


@dataclass
class Outcome:
    status: str  # ok | changed | failed | unreachable | skipped
    value: Any = None
    error: BaseException | None = None
    exit_code: int = 0
    batch: int = 0  # 1-based batch number; 0 for hosts never run
    msg: str = ""

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "unreachable")


def host_name(host: Any) -> str:
    return str(getattr(host, "name", host))


def _call(fn: Callable[[Any], Any], host: Any, batch: int) -> Outcome:
    try:
        value = fn(host)
    except SwiftDeployError as exc:
        status = "unreachable" if exc.exit_code == 6 else "failed"
        return Outcome(status, error=exc, exit_code=exc.exit_code, batch=batch, msg=exc.message)
    except Exception as exc:  # a bug on one host must not take the other hosts down with it
        return Outcome("failed", error=exc, exit_code=1, batch=batch, msg=f"{type(exc).__name__}: {exc}")
    status = value if value in ("ok", "changed") else "ok"
    return Outcome(status, value=value, batch=batch)


def run_on_hosts(
    hosts: Sequence[Any],
    fn: Callable[[Any], Any],
    *,
    serial: Serial | Sequence[Serial] = None,
    max_fail_percentage: float | None = None,
    parallel: bool = True,
    on_batch: Callable[[int, list[Any]], None] | None = None,
) -> dict[str, Outcome]:
    """Run ``fn`` on every host, batch by batch; see the module docstring.

    ``on_batch(number, hosts)`` is called before each batch starts (for a banner).
    """
    names = [host_name(h) for h in hosts]
    if len(set(names)) != len(names):
        raise ValueError(f"host names must be unique: {names}")
    interrupt.clear()
    with interrupt.noticed():
        return _run_batches(names, fn, plan_batches(list(hosts), serial), max_fail_percentage, parallel, on_batch)


def _run_batches(names: list[str], fn: Callable[[Any], Any], batches: list[list[Any]],
                 max_fail_percentage: float | None, parallel: bool,
                 on_batch: Callable[[int, list[Any]], None] | None) -> dict[str, Outcome]:
    outcomes: dict[str, Outcome] = {}
    for number, batch in enumerate(batches, start=1):
        if on_batch:
            on_batch(number, batch)
        if parallel and len(batch) > 1:
            with ThreadPoolExecutor(max_workers=len(batch), thread_name_prefix=f"batch{number}") as pool:
                try:
                    results = list(pool.map(lambda h: _call(fn, h, number), batch))
                except KeyboardInterrupt:
                    # Ctrl-C reaches this thread only: tell the hosts' threads, whose next wait
                    # raises it too; leaving `with` waits until each has stopped.
                    interrupt.request()
                    raise
        else:
            results = [_call(fn, h, number) for h in batch]
        for host, outcome in zip(batch, results):
            outcomes[host_name(host)] = outcome
        if number < len(batches) and should_stop(results, max_fail_percentage):
            failed = sum(1 for r in results if r.failed)
            why = (f"batch {number} had {failed} of {len(results)} hosts fail"
                   + (f", more than --max-fail-percentage {max_fail_percentage:g}"
                      if max_fail_percentage is not None else ""))
            for later in batches[number:]:
                for host in later:
                    outcomes[host_name(host)] = Outcome("skipped", msg=f"not run: {why}")
            break
    return {name: outcomes[name] for name in names}

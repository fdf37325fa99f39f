"""Command-line plumbing shared by the lifecycle tasks (no printing here).

Every lifecycle task takes the same host-selection flags (--hosts, --inventory,
--limit, --serial, ...). ``fleet_task`` adds them to a task's signature, so Invoke
parses and documents them, and hands the task one ``HostFlags`` instead of eight
parameters. ``number`` parses numeric flags so a bad value is a UsageError (exit 2).
"""
from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass, fields
from typing import Any, Callable

from invoke import task

from .errors import UsageError


@dataclass(frozen=True)
class HostFlags:
    """Which hosts a task acts on and how to reach them; defaults mean this machine."""

    hosts: str = ""
    inventory: str = ""
    limit: str = ""
    serial: str = ""
    max_fail_percentage: str = ""
    accept_new_host_keys: bool = False
    connect_timeout: str = ""
    json: bool = False


HELP = {
    "manifest": "path to manifest.yaml",
    "hosts": "comma-separated [user@]host[:port] to act on over SSH (default: this machine)",
    "inventory": "inventory file (Ansible INI/YAML or SwiftDeploy YAML)",
    "limit": "Ansible host pattern selecting inventory hosts",
    "serial": "hosts per batch: N or N% (default: all at once)",
    "max-fail-percentage": "stop before the next batch when more than P% of a batch failed",
    "accept-new-host-keys": "record unknown SSH host keys (changed keys are always refused)",
    "connect-timeout": "SSH connect timeout in seconds (default: deploy.connect_timeout_seconds)",
    "json": "print the results and recap as one JSON document",
}
# Tasks that watch one host (status, chaos) take no batch flags; their --json is their own.
SINGLE_HOST_SKIP = ("serial", "max_fail_percentage", "json")


def fleet_task(*, single: bool = False, help: dict[str, str] | None = None, **task_kwargs: Any) -> Callable:  # noqa: A002
    """Decorate ``body(ctx, hosts: HostFlags, **own_flags)`` as an Invoke task with the host flags."""
    def decorate(body: Callable) -> Any:
        params = list(inspect.signature(body).parameters.values())
        ctx_param, own = params[0], params[2:]
        own_names = {p.name for p in own}
        shared = [f for f in fields(HostFlags)
                  if f.name not in own_names and not (single and f.name in SINGLE_HOST_SKIP)]

        @functools.wraps(body)
        def wrapper(ctx: Any, *args: Any, **kwargs: Any) -> Any:
            flags = HostFlags(**{f.name: kwargs.pop(f.name) for f in shared if f.name in kwargs},
                              **({"json": kwargs["json"]} if "json" in own_names and "json" in kwargs else {}))
            return body(ctx, flags, *args, **kwargs)

        extra = [inspect.Parameter(f.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=f.default, annotation=f.type)
                 for f in shared]
        # --manifest, then the shared flags, then the task's own: the short forms are then the same on
        # every task (-m manifest, -h hosts, -i inventory, -l limit).
        first = [p for p in own if p.name == "manifest"]
        rest = [p for p in own if p.name != "manifest"]
        wrapper.__signature__ = inspect.Signature([ctx_param, *first, *extra, *rest])  # type: ignore[attr-defined]
        wanted = {name.replace("-", "_") for name in HELP} & ({f.name for f in shared} | own_names)
        merged = {k: v for k, v in HELP.items() if k.replace("-", "_") in wanted}
        return task(help={**merged, **(help or {})}, **task_kwargs)(wrapper)

    return decorate


def number(flag: str, text: str, *, minimum: float = 0.0) -> float | None:
    """Parse a numeric flag ("" means not given) or raise UsageError naming it."""
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{flag}: expected a number, got {text!r}") from None
    if value != value or value < minimum:
        raise UsageError(f"{flag}: expected a number >= {minimum:g}, got {text!r}")
    return value

"""Hook names, what a hook is told about the command, and its environment (pure).

A hook learns about the command from environment variables only::

    SWIFTDEPLOY_COMMAND      deploy | promote | rollout | rollback
    SWIFTDEPLOY_HOOK         the hook's own name, e.g. pre-deploy
    SWIFTDEPLOY_HOSTS        host names, comma-separated
    SWIFTDEPLOY_VERSION      the version being deployed ("" when none applies)
    SWIFTDEPLOY_MODE         stable | canary ("" when none applies)
    SWIFTDEPLOY_PERFORMER    who runs the command (the audit actor)
    SWIFTDEPLOY_RECORDED_AT  when the command started, UTC ISO 8601 (the same for its pre and post hook)
    post hooks only:
    SWIFTDEPLOY_STATUS       ok | failed
    SWIFTDEPLOY_DECISION     allow | deny | none (the policy gate's answer, none when not asked)
    SWIFTDEPLOY_EXIT_CODE    the command's exit code
    SWIFTDEPLOY_<KEY>        each extra key/value the command gives (key upper-cased)

Everything else comes from the caller's environment (``base``), minus any stale value of
the names above, so a pre hook never sees a ``SWIFTDEPLOY_STATUS`` left in the shell.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Iterable, Mapping

from ..audit.log import default_actor

COMMANDS = ("deploy", "promote", "rollout", "rollback")
PHASES = ("pre", "post")
HOOK_NAMES = tuple(f"{phase}-{command}" for command in COMMANDS for phase in PHASES)
DECISIONS = ("allow", "deny", "none")
PREFIX = "SWIFTDEPLOY_"
RESERVED_ENV = tuple(PREFIX + name for name in (
    "COMMAND", "HOOK", "HOSTS", "VERSION", "MODE", "PERFORMER", "RECORDED_AT", "STATUS", "DECISION", "EXIT_CODE"))

_EXTRA_KEY = re.compile(r"[A-Z_][A-Z0-9_]*")


def hook_name(phase: str, command: str) -> str:
    """``pre-deploy`` for ("pre", "deploy"); ValueError for an unknown phase or command."""
    if phase not in PHASES:
        raise ValueError(f"hook phase must be one of {', '.join(PHASES)}, got {phase!r}")
    if command not in COMMANDS:
        raise ValueError(f"hook command must be one of {', '.join(COMMANDS)}, got {command!r}")
    return f"{phase}-{command}"


def extra_env_name(key: str) -> str:
    """``SWIFTDEPLOY_<KEY>`` for an extra key: upper-cased, ``-`` and ``.`` read as ``_``.

    ValueError for a key that does not make a variable name or that would replace one
    of the variables SwiftDeploy sets itself (a programming error in the caller).
    """
    name = str(key).upper().replace("-", "_").replace(".", "_")
    if name.startswith(PREFIX):
        name = name[len(PREFIX):]
    if not _EXTRA_KEY.fullmatch(name):
        raise ValueError(f"hook extra key {key!r} does not make an environment variable name")
    full = PREFIX + name
    if full in RESERVED_ENV:
        raise ValueError(f"hook extra key {key!r} would replace {full}, which SwiftDeploy sets itself")
    return full


def _env_value(what: str, value: Any) -> str:
    text = "" if value is None else str(value)
    if "\0" in text:
        raise ValueError(f"{what} contains a NUL character, which an environment variable cannot hold")
    return text


@dataclass(frozen=True)
class HookContext:
    """What the pre and post hook of one command are told; see the module docstring."""

    command: str
    hosts: tuple[str, ...]
    version: str
    mode: str
    performer: str
    recorded_at: str
    extra: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.command not in COMMANDS:
            raise ValueError(f"hook command must be one of {', '.join(COMMANDS)}, got {self.command!r}")
        object.__setattr__(self, "hosts", tuple(self.hosts))
        # Checked now, so a bad key fails before the command starts rather than at its post hook.
        extra = {extra_env_name(k): _env_value(f"hook extra value {k!r}", v) for k, v in dict(self.extra).items()}
        object.__setattr__(self, "extra", extra)


@dataclass(frozen=True)
class Outcome:
    """How the command ended, for its post hook: exit code 0 is ``ok``, anything else ``failed``."""

    exit_code: int
    decision: str = "none"

    def __post_init__(self) -> None:
        if not isinstance(self.exit_code, int) or isinstance(self.exit_code, bool) or not 0 <= self.exit_code <= 255:
            raise ValueError(f"outcome exit_code must be an integer 0-255, got {self.exit_code!r}")
        if self.decision not in DECISIONS:
            raise ValueError(f"outcome decision must be one of {', '.join(DECISIONS)}, got {self.decision!r}")

    @property
    def status(self) -> str:
        return "ok" if self.exit_code == 0 else "failed"


def utc_now() -> str:
    """This moment as the audit trail writes it: ``2025-01-02T03:04:05.678Z``."""
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def new_context(
    command: str,
    hosts: Iterable[str],
    *,
    version: str | None = None,
    mode: str | None = None,
    performer: str | None = None,
    recorded_at: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> HookContext:
    """A context stamped now, performed by the audit actor unless ``performer`` is given."""
    if performer is None:
        performer = default_actor()  # the same "who" the audit trail records
    return HookContext(command, tuple(hosts), version or "", mode or "", performer,
                       recorded_at or utc_now(), dict(extra or {}))


def hook_env(
    hook: str,
    context: HookContext,
    outcome: Outcome | None = None,
    *,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The complete environment ``hook`` runs with: ``base`` plus the variables above.

    ``hook`` must be this command's pre or post hook; a post hook needs ``outcome`` and a
    pre hook must not get one (ValueError otherwise: programming errors).
    """
    phase = {hook_name(p, context.command): p for p in PHASES}.get(hook)
    if phase is None:
        raise ValueError(f"hook {hook!r} is not a hook of the {context.command} command "
                         f"(expected pre-{context.command} or post-{context.command})")
    if phase == "post" and outcome is None:
        raise ValueError(f"post hook {hook} needs the command's outcome")
    if phase == "pre" and outcome is not None:
        raise ValueError(f"pre hook {hook} runs before the command and cannot have an outcome")
    env = {k: v for k, v in (base or {}).items() if k not in RESERVED_ENV}
    env.update(context.extra)
    own = {
        "COMMAND": context.command,
        "HOOK": hook,
        "HOSTS": ",".join(context.hosts),
        "VERSION": context.version,
        "MODE": context.mode,
        "PERFORMER": context.performer,
        "RECORDED_AT": context.recorded_at,
    }
    if outcome is not None:
        own.update(STATUS=outcome.status, DECISION=outcome.decision, EXIT_CODE=str(outcome.exit_code))
    for name, value in own.items():
        env[PREFIX + name] = _env_value(PREFIX + name, value)
    return env

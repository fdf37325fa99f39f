"""Read each secret's value from its source on the controller (effects: environment, files, commands).

Every failure is a `SecretError` (exit 2) naming the secret and its source and never the value;
a value is one trailing newline shorter than what was read (as `pass`, `op read` and files end).
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Iterable, Mapping

from ..errors import ConfigError
from ..fileio import UnreadableFile, read_text_or_none
from ..manifest.model import SecretSource

VALUE_LIMIT = 64 * 1024  # bytes; a certificate chain fits, a file read by mistake does not
COMMAND_TIMEOUT = 60.0


class SecretError(ConfigError):
    """A secret could not be read, or is empty (exit 2): nothing was changed."""


def _trimmed(text: str) -> str:
    return text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text


def _from_env(source: SecretSource, environ: Mapping[str, str]) -> str:
    value = environ.get(source.ref)
    if value is None:
        raise SecretError(f"secrets.{source.name}: the environment variable {source.ref} is not set")
    return value


def _from_file(source: SecretSource, project_root: Path) -> str:
    path = Path(os.path.expanduser(source.ref)).resolve()
    if path == project_root or project_root in path.parents:
        raise SecretError(f"secrets.{source.name}: {source.ref} is inside the project directory; keep secrets "
                          "outside it (and out of version control)")
    try:
        text = read_text_or_none(str(path), limit=VALUE_LIMIT, what=f"secrets.{source.name}")
    except UnreadableFile as exc:
        raise SecretError(f"secrets.{source.name}: {exc}") from None
    except OSError as exc:
        raise SecretError(f"secrets.{source.name}: cannot read {source.ref} ({exc.strerror})") from None
    if text is None:
        raise SecretError(f"secrets.{source.name}: {source.ref} does not exist")
    return _trimmed(text)


def _from_command(source: SecretSource) -> str:
    try:
        done = subprocess.run(source.ref, shell=True, capture_output=True, timeout=COMMAND_TIMEOUT,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise SecretError(f"secrets.{source.name}: `{source.ref}` did not finish within {COMMAND_TIMEOUT:g}s") from None
    if done.returncode != 0:
        # Its stderr may explain (a locked store); its stdout is never shown: it may be the value.
        why = (done.stderr.decode("utf-8", "replace").strip().splitlines() or [""])[-1][:200]
        raise SecretError(f"secrets.{source.name}: `{source.ref}` exited {done.returncode}" + (f": {why}" if why else ""))
    if len(done.stdout) > VALUE_LIMIT:
        raise SecretError(f"secrets.{source.name}: `{source.ref}` printed more than {VALUE_LIMIT} bytes")
    try:
        return _trimmed(done.stdout.decode("utf-8"))
    except UnicodeDecodeError:
        raise SecretError(f"secrets.{source.name}: `{source.ref}` printed something that is not UTF-8 text") from None


def resolve(sources: Iterable[SecretSource], project_root: Path,
            environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """{name: value} for every secret, or SecretError for the first one that is missing or empty."""
    environ = os.environ if environ is None else environ
    values: dict[str, str] = {}
    for source in sources:
        if source.kind == "env":
            value = _from_env(source, environ)
        elif source.kind == "file":
            value = _from_file(source, project_root.resolve())
        else:
            value = _from_command(source)
        if not value:
            raise SecretError(f"secrets.{source.name}: the value from its {source.kind} ({source.ref}) is empty")
        values[source.name] = value
    return values

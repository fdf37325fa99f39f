"""Field validators for the manifest: each reads one key path and records a problem
(``key.path: expected ..., got ...``) instead of stopping at the first one.

Values that reach nginx.conf or docker-compose.yml are restricted here to character
sets that cannot break out of their context, so no manifest value can inject config.
"""
from __future__ import annotations

import math
import posixpath
import re
from typing import Any, Iterable, Mapping

from ..errors import ManifestError

# docker reference grammar, simplified: [registry[:port]/]path[:tag][@digest]
_IMAGE = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?(?::[0-9]{1,5})?/)?"
    r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*"
    r"(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?(?:@sha256:[a-f0-9]{64})?$"
)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_PROJECT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.+-]{0,63}$")
# An email address or URL: no quotes, backslashes, $, braces, ; or whitespace (nginx + JSON safe).
_CONTACT = re.compile(r"^[A-Za-z0-9@._+:/?=&%#-]{1,200}$")
_PATH = re.compile(r"^[A-Za-z0-9_./-]{1,255}$")
_HTTPS_URL = re.compile(r"https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~%/-]*)?")
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9.-]{1,253}")
_DNS_LABEL = re.compile(r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)")
# A swarm placement constraint, `KEY == VALUE` or `KEY != VALUE`, with the characters swarm accepts on
# each side (no other operator can hide in the value).
_CONSTRAINT = re.compile(r" *([A-Za-z_][A-Za-z0-9_.-]+) *(==|!=) *([A-Za-z0-9:_.*()?+\[\]\\^$|/ -]*?) *")
CONSTRAINT_LIMIT = 200


def host_name_ok(name: str) -> bool:
    """A DNS name (a leading ``*.`` allowed) or an IP address, as a certificate can name it."""
    import ipaddress

    try:
        ipaddress.ip_address(name)
        return True
    except ValueError:
        pass
    labels = name.removeprefix("*.").split(".")
    return len(name) <= 253 and all(_DNS_LABEL.fullmatch(label) for label in labels)


SECRET_NAME = re.compile(r"[A-Z][A-Z0-9_]{0,63}")
_ENV_VAR = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,127}")
COMMAND_LIMIT = 1000


def secret_source_problem(kind: str, ref: Any) -> str:
    """Why a secret's source is unusable ("" when it is fine) (pure)."""
    if not isinstance(ref, str) or not ref.strip():
        return f"expected a non-empty string, got {describe(ref)}"
    if kind == "env" and not _ENV_VAR.fullmatch(ref):
        return f"expected an environment variable name, got {describe(ref)}"
    if kind == "file" and not (ref.startswith("/") or ref.startswith("~/")):
        return ("expected an absolute path or one under ~/ (a secret is read from outside the project, "
                f"never from a file in it), got {describe(ref)}")
    if kind == "command" and (len(ref) > COMMAND_LIMIT or "\n" in ref or "\0" in ref):
        return f"expected one command line of at most {COMMAND_LIMIT} characters"
    return ""


_MEMORY = re.compile(r"([1-9][0-9]{0,12})([bkmg])")
_UNITS = {"b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
MEMORY_MIN, MEMORY_MAX = 6 * 1024**2, 1024 * 1024**3


def constraint_ok(item: Any) -> bool:
    """A swarm placement constraint: one ``==`` or ``!=`` between a key and a non-empty value (pure)."""
    if not isinstance(item, str) or len(item) > CONSTRAINT_LIMIT:
        return False
    found = _CONSTRAINT.fullmatch(item)
    return bool(found and found.group(3).strip())


def memory_bytes(text: str) -> int:
    """``256m`` as bytes; -1 for anything that is not a Docker memory size (pure)."""
    found = _MEMORY.fullmatch(text.lower()) if isinstance(text, str) else None
    return int(found.group(1)) * _UNITS[found.group(2)] if found else -1


def describe(value: Any) -> str:
    """How a bad value is shown in an error: quoted strings, YAML-ish names for the rest."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"' if len(value) <= 80 else f'"{value[:77]}..."'
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return repr(value)


def describe_list(value: list[Any]) -> str:
    """A short list as written in YAML's flow style (``[50, 25]``); a long one by its length."""
    shown = "[" + ", ".join(describe(item) for item in value) + "]"
    return shown if len(shown) <= 80 else f"a list of {len(value)} items"


def steps_problem(steps: list[Any], most: int) -> str:
    """Why ``steps`` is not 1 to ``most`` whole percentages 1-100, each larger than the one before ('' when it is)."""
    if not steps:
        return "it is empty"
    if len(steps) > most:
        return f"{len(steps)} steps, at most {most}"
    for step in steps:
        if type(step) is not int:
            return f"{describe(step)} is not a whole number"
        if not 1 <= step <= 100:
            return f"{step} is not a percentage 1-100"
    for before, step in zip(steps, steps[1:]):
        if step <= before:
            return f"{step} is not larger than {before} before it"
    return ""


class Validator:
    """Reads typed values out of a merged manifest mapping, collecting problems."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self.data = data
        self.problems: list[str] = []

    def problem(self, key: str, text: str) -> None:
        self.problems.append(f"{key}: {text}")

    def finish(self) -> None:
        if self.problems:
            raise ManifestError(self.problems)

    def _get(self, key: str) -> tuple[bool, Any]:
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, Mapping):
                return False, None
            if part not in node:
                return False, None
            node = node[part]
        return True, node

    def _read(self, key: str, expected: str, ok) -> Any:  # noqa: ANN001 - small callable
        present, value = self._get(key)
        if not present:
            self.problem(key, f"required field is missing (expected {expected})")
            return None
        if not ok(value):
            self.problem(key, f"expected {expected}, got {describe(value)}")
            return None
        return value

    def port(self, key: str) -> int:
        return self.integer(key, 1, 65535)

    def integer(self, key: str, lo: int, hi: int) -> int:
        expected = f"an integer {lo}-{hi}"
        return self._read(key, expected, lambda v: type(v) is int and lo <= v <= hi)

    def number(self, key: str, lo: float, hi: float) -> float:
        expected = f"a number {lo:g}-{hi:g}"

        def ok(v: Any) -> bool:
            return type(v) in (int, float) and math.isfinite(v) and lo <= v <= hi

        value = self._read(key, expected, ok)
        return float(value) if value is not None else None  # type: ignore[return-value]

    def boolean(self, key: str) -> bool:
        return self._read(key, "true or false", lambda v: isinstance(v, bool))

    def choice(self, key: str, allowed: Iterable[str]) -> str:
        allowed = tuple(allowed)
        return self._read(key, "one of " + ", ".join(allowed), lambda v: isinstance(v, str) and v in allowed)

    def _pattern(self, key: str, pattern: re.Pattern[str], expected: str) -> str:
        # fullmatch, not match: a pattern's `$` also matches before a trailing newline.
        return self._read(key, expected, lambda v: isinstance(v, str) and bool(pattern.fullmatch(v)))

    def image(self, key: str) -> str:
        return self._pattern(key, _IMAGE, "a docker image reference like name:tag (lowercase, no spaces)")

    def name(self, key: str) -> str:
        return self._pattern(key, _NAME, "a name of letters, digits, '_', '.', '-' (max 63)")

    def project_name(self, key: str) -> str:
        return self._pattern(key, _PROJECT, "a compose project name: lowercase letters, digits, '_', '-'")

    def token(self, key: str) -> str:
        # A YAML `version: 1.0` arrives as a float; say so rather than silently reformatting it.
        return self._pattern(key, _TOKEN, 'a string of letters, digits, ".", "_", "+", "-" (quote numbers: "1.0")')

    def contact(self, key: str) -> str:
        return self._pattern(key, _CONTACT, "an email address or URL without spaces, quotes, '$', '{', '}' or ';'")

    def memory(self, key: str) -> str:
        """A Docker memory size (``256m``, ``1g``) from 6m (Docker's smallest limit) to 1024g."""
        expected = "a memory size like 256m or 1g (a number and one of b, k, m, g), 6m-1024g"
        return self._read(key, expected, lambda v: isinstance(v, str) and MEMORY_MIN <= memory_bytes(v) <= MEMORY_MAX)

    def percent_steps(self, key: str, most: int = 10) -> tuple[int, ...]:
        """A non-empty list of at most ``most`` percentages 1-100, strictly increasing."""
        expected = f"a list of 1-{most} integers 1-100, each larger than the one before (e.g. [10, 25, 50])"
        value = self._read(key, expected, lambda v: isinstance(v, list))
        if value is None:
            return None  # type: ignore[return-value]
        why = steps_problem(value, most)
        if why:
            self.problem(key, f"expected {expected}, got {describe_list(value)}: {why}")
            return None  # type: ignore[return-value]
        return tuple(value)

    def host_names(self, key: str, most: int) -> tuple[str, ...]:
        """A list of 1..``most`` DNS names (``*.`` wildcards allowed) or IP addresses, each once."""
        value = self._read(key, f"a list of 1-{most} DNS names or IP addresses",
                           lambda v: isinstance(v, list) and 0 < len(v) <= most)
        if value is None:
            return ()
        bad = [describe(n) for n in value if not (isinstance(n, str) and host_name_ok(n))]
        twice = sorted({n for n in value if isinstance(n, str) and value.count(n) > 1})
        if bad:
            self.problem(key, f"not a DNS name or IP address: {', '.join(bad)}")
        if twice:
            self.problem(key, f"named more than once: {', '.join(twice)}")
        return () if bad or twice else tuple(value)

    def placement_constraints(self, key: str, most: int) -> tuple[str, ...]:
        """A list of at most ``most`` swarm placement constraints, each ``KEY == VALUE`` or ``KEY != VALUE``."""
        value = self._read(key, f"a list of at most {most} placement constraints like \"node.labels.role == app\"",
                           lambda v: isinstance(v, list) and len(v) <= most)
        if value is None:
            return ()
        bad = [describe(item) for item in value if not constraint_ok(item)]
        if bad:
            self.problem(key, "expected each to be a non-empty string KEY == VALUE or KEY != VALUE (KEY like "
                              f"node.labels.role, node.hostname, node.role), got {', '.join(bad)}")
            return ()
        return tuple(value)

    def https_url(self, key: str) -> str:
        return self._read(key, "an https:// URL", lambda v: isinstance(v, str) and bool(_HTTPS_URL.fullmatch(v)))

    def optional_email(self, key: str) -> str:
        return self._read(key, 'an e-mail address or ""', lambda v: v == "" or (isinstance(v, str)
                                                                              and bool(_EMAIL.fullmatch(v))))

    def file_path(self, key: str) -> str:
        """A file's path, absolute or relative to the project, or "" for none (existence is checked later)."""
        return self._read(key, 'a file path or ""', lambda v: isinstance(v, str) and len(v) <= 4096
                          and not any(ch in v for ch in "\0\n\r"))

    def rel_path(self, key: str, *, allow_home: bool = False, directory: bool = False) -> str:
        """A path that stays inside its base directory: the project directory, or with
        ``allow_home`` the login's home on a remote host (``x`` or ``~/x``).

        Refused: absolute paths, ``..`` components, characters outside ``_PATH``, and
        anything that names the base itself (``.``, ``./``, ``~``, ``~/``, ``a/..``): a
        ``directory`` must be a subdirectory, and a file path must end in a file name.
        """
        present, value = self._get(key)
        if not present:
            self.problem(key, "required field is missing (expected a relative path)")
            return None  # type: ignore[return-value]
        base = "the login's home (like swiftdeploy or ~/apps/swiftdeploy)" if allow_home else "the project directory"
        got = f", got {describe(value)}"
        if not isinstance(value, str):
            self.problem(key, f"expected a path inside {base}{got}")
            return None  # type: ignore[return-value]
        body = value
        if allow_home and (value == "~" or value.startswith("~/")):
            body = value[2:]
        parts = body.split("/")
        if body.startswith("/"):
            self.problem(key, f"expected a path relative to {base}, not an absolute one{got}")
        elif body and not (_PATH.fullmatch(body) and ".." not in parts):
            self.problem(key, f"expected a path of letters, digits, '_', '.', '-', '/' without '..'{got}")
        elif posixpath.normpath(body or ".") == ".":
            what = "a subdirectory of" if directory else "a file inside"
            self.problem(key, f"expected {what} {base}, not that directory itself{got}")
        elif not directory and parts[-1] in ("", "."):
            self.problem(key, f"expected a file path (ending in a file name, not '/' or '/.'){got}")
        else:
            return value
        return None  # type: ignore[return-value]


def shape_problems(raw: Mapping[str, Any], known: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(unknown, malformed): key paths in ``raw`` that the ``known`` schema lacks, and
    sections that are not mappings.

    Checked at every depth: ``policy_limits: {canary: 5}`` must say that ``canary`` is
    not a mapping, not that each of its fields is missing. An unknown key leaves the known
    fields checkable; a malformed section does not.
    """
    unknown: list[str] = []
    malformed: list[str] = []

    def walk(node: Mapping[str, Any], schema: Mapping[str, Any], prefix: str) -> None:
        for key, value in node.items():
            path = f"{prefix}{key}"
            if key not in schema:
                unknown.append(f"{path}: unknown field (known here: {', '.join(sorted(map(str, schema)))})")
            elif isinstance(schema[key], Mapping):
                if isinstance(value, Mapping):
                    walk(value, schema[key], path + ".")
                else:
                    malformed.append(f"{path}: expected a mapping of fields, got {describe(value)}")

    walk(raw, known, "")
    return unknown, malformed

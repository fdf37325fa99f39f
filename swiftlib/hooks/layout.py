"""The hooks directory, checked before a command does anything.

A hook is an executable file named exactly like one of ``HOOK_NAMES`` directly in the hooks
directory (``hooks.dir``, relative to the project directory). A missing directory or a
missing hook is fine: there is simply nothing to run. Refused up front, all problems in one
ConfigError (exit 2), each naming the file and the fix:

- a hook that is not executable (``chmod +x hooks/pre-deploy``), is a directory or not a
  regular file, or is a symbolic link that is dangling or leads outside the hooks directory;
- a file that looks like a misspelt hook -- the same letters with other separators, another
  case or an extension: ``pre_deploy``, ``predeploy``, ``Pre-Deploy``, ``pre-deploy.sh`` --
  which would otherwise be silently ignored. Files marked as not in use stay quiet: names
  starting with ``.`` or ending in ``~``, ``.sample``, ``.example``, ``.disabled``, ``.off``,
  ``.bak``, ``.orig``, ``.old``, ``.swp``, ``.md``, ``.txt``. Any other file is the project's
  own business (helper scripts, libraries) and is left alone.

Reads the filesystem (``lstat``, ``realpath``, ``access``) but changes nothing.
"""
from __future__ import annotations

import os
import re
import stat

from ..errors import ConfigError
from .context import HOOK_NAMES
from .output import escape_controls

_NOT_IN_USE = ("~", ".sample", ".example", ".disabled", ".off", ".bak", ".orig", ".old", ".swp", ".md", ".txt")
_EXTENSION = re.compile(r"\.[A-Za-z0-9]{1,4}$")
_SEPARATORS = re.compile(r"[-_. ]")
_BY_LETTERS = {name.replace("-", ""): name for name in HOOK_NAMES}


def hooks_location(hooks_dir: str | os.PathLike[str], root: str | os.PathLike[str] | None = None) -> tuple[str, str]:
    """(absolute directory, directory as the user names it): ``hooks_dir`` is relative to ``root``."""
    shown = os.path.normpath(os.fspath(hooks_dir))
    base = os.fspath(root) if root is not None else os.getcwd()
    return os.path.abspath(os.path.join(base, shown)), shown


def directory_outside(directory: str, shown_dir: str, root: str | os.PathLike[str] | None) -> str | None:
    """Why the hooks directory may not be used (it resolves outside ``root``), or None."""
    if root is None:
        return None
    real, real_root = os.path.realpath(directory), os.path.realpath(root)
    if real.startswith(real_root.rstrip(os.sep) + os.sep):
        return None
    return (f"{shown_dir}: the hooks directory resolves to {real}, outside the project directory {real_root} "
            "(a symbolic link leads there); hooks run only from inside the project")


def misspelt_hook(name: str) -> str | None:
    """The hook ``name`` looks like a misspelling of, or None (a hook's own name is not misspelt)."""
    if name in HOOK_NAMES or name.startswith(".") or name.lower().endswith(_NOT_IN_USE):
        return None
    letters = _SEPARATORS.sub("", _EXTENSION.sub("", name).lower())
    return _BY_LETTERS.get(letters)


def hook_problem(directory: str, name: str, shown: str) -> str | None:
    """Why the hook file ``directory/name`` cannot run, ``""`` when it can, None when absent.

    ``shown`` is the path to name in the message (``hooks/pre-deploy``).
    """
    path = os.path.join(directory, name)
    try:
        link = stat.S_ISLNK(os.lstat(path).st_mode)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"{shown}: cannot be read ({exc.strerror})"
    if link:
        real = os.path.realpath(path)
        real_dir = os.path.realpath(directory)
        if not real.startswith(real_dir.rstrip(os.sep) + os.sep):
            return (f"{shown}: is a symbolic link to {escape_controls(real)}, outside the hooks directory; a hook "
                    "must be a file inside it: replace the link with the script itself (or a link to a file in "
                    "the hooks directory)")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return f"{shown}: is a symbolic link to a file that does not exist; remove the link or restore its target"
    except OSError as exc:
        return f"{shown}: cannot be read ({exc.strerror})"
    if stat.S_ISDIR(mode):
        return (f"{shown}: is a directory; a hook is one executable file named {name}: "
                f"move the directory out of the hooks directory and put a script in its place")
    if not stat.S_ISREG(mode):
        return f"{shown}: is not a regular file; a hook is an executable file (a script with #! or a program)"
    if not (mode & 0o111 and os.access(path, os.X_OK)):
        return f"{shown}: is not executable; make it so: chmod +x {shown}"
    return ""


def validate_hooks(
    hooks_dir: str | os.PathLike[str], *, root: str | os.PathLike[str] | None = None
) -> tuple[str, ...]:
    """The hooks present in ``hooks_dir`` (relative to ``root``), in ``HOOK_NAMES`` order.

    ConfigError listing every broken or misspelt hook file (see the module docstring), or
    when ``hooks_dir`` exists but is not a readable directory. A missing directory gives ().
    """
    directory, shown_dir = hooks_location(hooks_dir, root)
    if not os.path.lexists(directory):
        return ()
    escape = directory_outside(directory, shown_dir, root)
    if escape:
        raise ConfigError(escape)
    if not os.path.isdir(directory):
        raise ConfigError(f"{shown_dir}: the hooks directory is not a directory; remove it or point hooks.dir "
                          "in the manifest at a directory")
    try:
        names = sorted(os.listdir(directory))
    except OSError as exc:
        raise ConfigError(f"{shown_dir}: cannot read the hooks directory ({exc.strerror})") from exc
    problems: list[str] = []
    present: set[str] = set()
    for name in names:
        shown = os.path.join(shown_dir, name)
        if name in HOOK_NAMES:
            problem = hook_problem(directory, name, shown)
            if problem:
                problems.append(problem)
            elif problem == "":
                present.add(name)
            continue
        expected = misspelt_hook(name)
        if expected:
            problems.append(f"{shown}: looks like the {expected} hook, but hooks are found only by their exact "
                            f"name: rename it to {os.path.join(shown_dir, expected)} (no extension), or move it "
                            "out of the hooks directory")
    if len(problems) == 1:
        raise ConfigError(problems[0])
    if problems:
        raise ConfigError(f"{len(problems)} problems in the hooks directory {shown_dir}\n"
                          + "\n".join(f"  - {p}" for p in problems))
    return tuple(name for name in HOOK_NAMES if name in present)

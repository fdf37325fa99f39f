#!/usr/bin/env python3
"""How many seeded bugs the unit tier catches: mutation testing of the pure modules.

    .venv/bin/python scripts/mutation.py [--module swiftlib/tracks.py ...] [--max-children N]
    make mutation

mutmut (from PyPI, pinned below) changes one small thing at a time in the modules listed in
MODULES (a comparison flipped, a constant changed, a call dropped, ...) and runs the unit tests
that reach the changed function; a mutant some test fails on is killed, one every test passes
on survived: a bug the unit tier would let through. Prints the kill rate per module (killed /
all mutants; a timeout counts as killed, a mutant no unit test reaches as not) and writes the
survivors, each with its diff, to REPORT_DIR/survivors.txt.

Not part of `make test` or CI: about 11 minutes on 2 cores. mutmut is not a dependency of the
project: it is installed with `pip install --target` under .venv/cache/mutation, used from there
with this virtualenv's Python, and works on a copy of the checkout (tracked files, as they are
in the work tree) in .venv/cache/mutation/work, which the next run replaces; the end of the
output says how to browse the mutants there.

Exit codes: 0 done (whatever the kill rate), 1 mutmut could not be installed or did not finish,
2 a --module that is not a tracked .py file of swiftlib/.
"""
from __future__ import annotations

import argparse
import datetime
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOOL = "mutmut"
TOOL_VERSION = "3.8.1"
CACHE = REPO / ".venv" / "cache" / "mutation"

# Pure modules with unit tests of their own. Left out: observe/canary_window.py, whose scraping
# runs against a host and is exercised by the integration tier (only its scrape cache is pure).
MODULES = (
    "swiftlib/inventory/patterns.py",
    "swiftlib/inventory/ranges.py",
    "swiftlib/manifest/checks.py",
    "swiftlib/metrics/quantile.py",
    "swiftlib/metrics/scrape.py",
    "swiftlib/tracks.py",
)

# A `python -m swiftlib` that a unit test starts inherits MUTANT_UNDER_TEST. During mutmut's
# first pass ("stats": which tests reach which function) the mutated code there would look for
# mutmut's configuration in that process's directory (the test's project) and fail, failing the
# test; such a process runs the original code instead. With a mutant active it runs the mutant.
SITECUSTOMIZE = '''\
import os

if os.environ.get("MUTANT_UNDER_TEST") == "stats":
    os.environ["MUTANT_UNDER_TEST"] = ""
'''

# mutmut's statuses (`mutmut results --all true`) as this report counts them.
KILLED = {"killed", "timeout", "caught by type check", "segfault"}


@dataclass
class Tally:
    module: str
    killed: int = 0
    survived: int = 0
    untested: int = 0  # no unit test reaches the mutated function
    other: int = 0  # suspicious, skipped, not checked

    @property
    def total(self) -> int:
        return self.killed + self.survived + self.untested + self.other

    @property
    def rate(self) -> float:
        return self.killed / self.total if self.total else 0.0


def module_of(mutant: str, modules: tuple[str, ...]) -> str | None:
    """The module (a path in MODULES) a mutant name such as
    ``swiftlib.tracks.x_split__mutmut_3`` or ``swiftlib.m.xǁClassǁmethod__mutmut_1`` belongs to."""
    for path in sorted(modules, key=len, reverse=True):
        dotted = path.removesuffix(".py").replace("/", ".")
        if mutant.startswith(dotted + "."):
            return path
    return None


def tally(results: str, modules: tuple[str, ...]) -> tuple[dict[str, Tally], list[str]]:
    """Per module counts from `mutmut results --all true` lines (``    NAME: STATUS``), and the
    names of the mutants that survived."""
    tallies = {path: Tally(path) for path in modules}
    survivors: list[str] = []
    for line in results.splitlines():
        name, sep, status = line.strip().rpartition(": ")
        module = module_of(name, modules) if sep else None
        if module is None:
            continue
        count = tallies[module]
        if status in KILLED:
            count.killed += 1
        elif status == "survived":
            count.survived += 1
            survivors.append(name)
        elif status == "no tests":
            count.untested += 1
        else:
            count.other += 1
    return tallies, survivors


def table(tallies: dict[str, Tally]) -> str:
    """The kill rates as a Markdown table, with a total row."""
    rows = ["| module | killed | survived | no test reaches it | total | kill rate |",
            "|---|---|---|---|---|---|"]
    every = Tally("all")
    for count in tallies.values():
        rows.append(f"| `{count.module}` | {count.killed} | {count.survived} | {count.untested} | "
                    f"{count.total} | {count.rate:.0%} |")
        every.killed += count.killed
        every.survived += count.survived
        every.untested += count.untested
        every.other += count.other
    rows.append(f"| all | {every.killed} | {every.survived} | {every.untested} | {every.total} | "
                f"{every.rate:.0%} |")
    return "\n".join(rows)


def config(modules: tuple[str, ...], also_copy: list[str]) -> str:
    """mutmut's setup.cfg for the work copy: mutate MODULES, with the unit tier as the tests."""
    lines = ["[mutmut]", "source_paths=swiftlib", "only_mutate="]
    lines += [f"    {path}" for path in modules]
    lines += ["also_copy="] + [f"    {name}" for name in also_copy]
    lines += ["pytest_add_cli_args_test_selection=tests/unit", "pytest_add_cli_args=-p no:cacheprovider"]
    return "\n".join(lines) + "\n"


def tracked_files() -> list[str]:
    listed = subprocess.run(["git", "-C", str(REPO), "ls-files", "-z"], capture_output=True, text=True, check=True)
    return [name for name in listed.stdout.split("\0") if name and (REPO / name).is_file()]


def work_copy(work: Path, files: list[str], modules: tuple[str, ...]) -> None:
    """The checkout's tracked files in ``work`` (replacing a previous run's), with mutmut's config."""
    if work.exists():
        shutil.rmtree(work)
    for name in files:
        target = work / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    # mutmut copies swiftlib/ and tests/ into work/mutants itself; everything else the tests read:
    also_copy = sorted({name.split("/", 1)[0] for name in files} - {"swiftlib", "tests"})
    (work / "setup.cfg").write_text(config(modules, also_copy))


def install_tool(cache: Path, version: str) -> Path:
    """mutmut VERSION under the cache (pip --target, once); its directory."""
    target = cache / f"{TOOL}-{version}"
    if not (target / f"{TOOL}-{version}.dist-info").is_dir():
        print(f"installing {TOOL} {version} into {target}", flush=True)
        if target.exists():
            shutil.rmtree(target)
        done = subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                               "--target", str(target), f"{TOOL}=={version}"])
        if done.returncode != 0:
            sys.exit(f"mutation: pip could not install {TOOL}=={version} (exit {done.returncode})")
    shim = cache / "shim"
    shim.mkdir(parents=True, exist_ok=True)
    (shim / "sitecustomize.py").write_text(SITECUSTOMIZE)
    return target


def python(argv: list[str], work: Path, pythonpath: str, **kw) -> subprocess.CompletedProcess:
    """This virtualenv's Python in the work copy, with mutmut (and the shim) importable."""
    env = {key: value for key, value in os.environ.items() if key != "MUTANT_UNDER_TEST"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [pythonpath, os.environ.get("PYTHONPATH")]))
    return subprocess.run([sys.executable, *argv], cwd=work, env=env, **kw)


def mutmut(args: list[str], work: Path, pythonpath: str, **kw) -> subprocess.CompletedProcess:
    return python(["-m", TOOL, *args], work, pythonpath, **kw)


# `mutmut show NAME` for many names in one process (each `mutmut show` takes a second to start).
SHOW_ALL = """\
import sys
from mutmut.__main__ import show
for name in sys.stdin.read().split():
    show.callback(name)
    print()
"""


def diffs(names: list[str], work: Path, pythonpath: str) -> str:
    """Each mutant's status line and diff, as `mutmut show` prints them."""
    shown = python(["-c", SHOW_ALL], work, pythonpath, input="\n".join(names), capture_output=True, text=True)
    return shown.stdout if shown.returncode == 0 else f"mutmut show failed (exit {shown.returncode}):\n{shown.stderr}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", action="append", dest="modules", metavar="PATH",
                        help=f"a module to mutate (repeatable; default: {', '.join(MODULES)})")
    parser.add_argument("--max-children", type=int, default=os.cpu_count() or 2, help="mutants tested at once")
    parser.add_argument("--tool-version", default=TOOL_VERSION, help=f"mutmut version (default {TOOL_VERSION})")
    args = parser.parse_args()

    files = tracked_files()
    modules = tuple(args.modules or MODULES)
    unknown = [path for path in modules if path not in files or not path.startswith("swiftlib/")
               or not path.endswith(".py")]
    if unknown:
        print(f"mutation: not a tracked .py file of swiftlib/: {', '.join(unknown)}", file=sys.stderr)
        return 2

    started = time.monotonic()
    tool = install_tool(CACHE, args.tool_version)
    pythonpath = os.pathsep.join([str(CACHE / "shim"), str(tool)])
    work = CACHE / "work"
    work_copy(work, files, modules)
    print(f"{TOOL} {args.tool_version} on {len(modules)} modules, tests: tests/unit, in {work}", flush=True)
    ran = mutmut(["run", "--max-children", str(args.max_children)], work, pythonpath)
    if ran.returncode != 0:
        print(f"mutation: {TOOL} run exited {ran.returncode} (see its output above)", file=sys.stderr)
        return 1
    results = mutmut(["results", "--all", "true"], work, pythonpath, capture_output=True, text=True)
    if results.returncode != 0:
        print(f"mutation: {TOOL} results exited {results.returncode}:\n{results.stderr}", file=sys.stderr)
        return 1
    tallies, survivors = tally(results.stdout, modules)

    (CACHE / "survivors.txt").write_text(diffs(survivors, work, pythonpath))
    minutes = (time.monotonic() - started) / 60
    print(f"\n{TOOL} {args.tool_version}, {datetime.date.today().isoformat()}, {args.max_children} at once, "
          f"{minutes:.1f} min; killed = some unit test failed (or timed out) with the mutant")
    print(table(tallies))
    print(f"\n{len(survivors)} survivors, each with its diff: {CACHE / 'survivors.txt'}")
    print(f"browse them: cd {work} && PYTHONPATH={pythonpath} {sys.executable} -m {TOOL} browse")
    return 0


if __name__ == "__main__":
    sys.exit(main())

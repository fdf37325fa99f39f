"""Shared test helpers: where the repository is, how to run `inv` like a user does, and what
a test needs outside Python.

A test that needs Docker, sshd, nginx or Ansible says so with a marker (``docker``, ``sshd``,
``nginx``, ``ansible``; declared in pyproject.toml). Before such a test sets anything up, the
component is looked for, and a missing one FAILS the test with a message naming it and how
to install it -- never a skip: a skipped real test hides breakage. Unit tests (tests/unit/)
need nothing outside Python, so a marker there is itself an error. Their Python is the
virtualenv with the ``[test]`` extra plus OPA's Go evaluator (the opa-golib-python-bindings wheel,
installed by scripts/install-opa-golib.sh), and `make unit` installs whichever is missing first.
"""
from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# The audit seals every test history leaves go to a directory of this run, not the operator's
# ~/.local/state (inherited by every `inv` the tests start).
if "SWIFTDEPLOY_STATE_DIR" not in os.environ:
    import tempfile

    os.environ["SWIFTDEPLOY_STATE_DIR"] = tempfile.mkdtemp(prefix="swiftdeploy-test-state-")
# One draw of the fault matrix per run: with `pytest -n` every worker collects the matrix's cases, and
# they must collect the same ones (workers inherit this process's environment).
os.environ.setdefault("SWIFTDEPLOY_FAULT_SEED", str(int(time.time())))
UNIT = REPO / "tests" / "unit"
SBIN = os.pathsep.join(["/usr/sbin", "/usr/local/sbin", "/sbin"])


# The program under test is this checkout's, whatever else the Python environment holds: every
# `swiftdeploy` (python -m swiftlib) a test starts imports swiftlib from here.
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
SWIFTDEPLOY = (sys.executable, "-m", "swiftlib")  # the `swiftdeploy` console command
INV = (sys.executable, "-m", "invoke", "-r", str(REPO))  # `inv` from the checkout (tasks.py)


def run_cli(manifest: Path, task: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run `swiftdeploy TASK --manifest M ARGS...` from the project directory, as a user would."""
    argv = [*SWIFTDEPLOY, task, "--manifest", str(manifest), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout, cwd=manifest.parent)


def exited(result: subprocess.CompletedProcess, code: int = 0) -> subprocess.CompletedProcess:
    """``result`` of a command that exited ``code``; otherwise the test fails showing all it printed."""
    assert result.returncode == code, f"exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def printed(result: subprocess.CompletedProcess, code: int = 0) -> str:
    """What a command that exited ``code`` printed on stdout (as `exited`)."""
    return exited(result, code).stdout


def ansible_tool(name: str) -> str:
    """Path of an ansible-core command; prefer the one beside this interpreter (skips slow shims)."""
    found = _ansible_tool(name)
    if not found:
        pytest.fail(f"{name} not found: install ansible-core (pip install ansible-core)")
    return found


def _ansible_tool(name: str) -> str | None:
    beside = Path(sys.executable).with_name(name)
    return str(beside) if beside.exists() else shutil.which(name)


# -- components outside Python, by marker -------------------------------------------------------

def _docker() -> str:
    try:
        probe = subprocess.run(["docker", "info", "--format", "{{.ServerVersion}}"], capture_output=True, text=True,
                               timeout=60)
    except FileNotFoundError:
        return "Docker is required but the docker CLI is not installed; run `inv bootstrap` (make test does)"
    except subprocess.TimeoutExpired:
        return "Docker is required but `docker info` did not answer within 60s; check the Docker engine"
    if probe.returncode != 0:  # docker 20.10 prints "Cannot connect ..." on stdout under --format
        said = " ".join(line.strip() for line in (probe.stdout + "\n" + probe.stderr).splitlines() if line.strip())
        return f"Docker is required but no Docker engine answers; run `inv bootstrap` (make test does): {said}"
    return ""


def _sshd() -> str:
    missing = [name for name in ("sshd", "ssh-keygen")
               if not (shutil.which(name) or shutil.which(name, path=SBIN))]
    if missing:
        return (f"sshd is required but {' and '.join(missing)} not found; install Debian's openssh-server "
                "(make test-deps)")
    return ""


def _nginx() -> str:
    if shutil.which("nginx") or shutil.which("nginx", path=SBIN):
        return ""
    return "nginx is required but not found; install Debian's nginx-light (make test-deps)"


def _ansible() -> str:
    missing = [name for name in ("ansible-playbook", "ansible-inventory") if not _ansible_tool(name)]
    if missing:
        return (f"Ansible is required but {' and '.join(missing)} not found; install ansible-core "
                "(pip install -e '.[test]', which make test does)")
    return ""


COMPONENTS = {"docker": _docker, "sshd": _sshd, "nginx": _nginx, "ansible": _ansible}


@functools.cache
def missing_component(name: str) -> str:
    """Why component ``name`` is unusable here ('' when it is usable); looked for once per run."""
    return COMPONENTS[name]()


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path=SBIN)
    if not found:
        pytest.fail(_nginx())
    return found


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Fail a test whose declared component is missing, before its fixtures start anything."""
    needs = [name for name in COMPONENTS if item.get_closest_marker(name)]
    if needs and UNIT in Path(str(item.path)).parents:
        pytest.fail(f"unit tests need nothing outside Python, but this one is marked {', '.join(needs)}: "
                    "move it to tests/integration/", pytrace=False)
    problems = [missing_component(name) for name in needs if missing_component(name)]
    if problems:
        pytest.fail("; ".join(problems), pytrace=False)


# -- running on several workers (`make test`: pytest -n) ------------------------------------------

# A test file runs whole, in order, on one worker: its module fixtures build on each other (a stack the
# first test deploys, the next promotes). Files of one group run one after the other on one worker: each
# of these starts docker-in-docker nodes from one image, and two sets at once crowd two cores.
GROUPS = {"test_swarm.py": "docker-in-docker", "test_cluster.py": "docker-in-docker",
          "test_bootstrap_hosts.py": "docker-in-docker"}
# Handed out first (the longest), so that no worker starts one of them when the rest is nearly done.
FIRST = ("test_swarm.py", "test_cluster.py", "test_bootstrap_hosts.py", "test_fault_matrix.py")


@pytest.hookimpl(optionalhook=True, tryfirst=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    from xdist.scheduler import LoadScopeScheduling

    class ByFile(LoadScopeScheduling):
        """xdist's own scheduling by scope, where a scope is a test file or its group, handed out in the
        collection's order (not by how many tests a scope has)."""

        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return GROUPS.get(path.rsplit("/", 1)[-1], path)

    config.option.loadscopereorder = False
    return ByFile(config, log)


@pytest.hookimpl(trylast=True)  # after selection (-k, -m): only the order changes
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In a pytest-xdist worker (whose collection the scheduler hands out in order): the longest files first."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    rank = {name: place for place, name in enumerate(FIRST)}
    items.sort(key=lambda item: rank.get(Path(str(item.path)).name, len(FIRST)))  # stable: files stay whole


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter):
    """Below pytest's own summary (the failures): the fault matrix as run, and how to install OPA's Go
    evaluator when unit tests ran without it. Written here, not in tests/unit or tests/integration: under
    `pytest -n` the process that writes the summary loads only this conftest."""
    yield
    from tests.integration.conftest import fault_matrix_lines
    from tests.unit.conftest import go_evaluator_lines

    reports = [report for reports in terminalreporter.stats.values() for report in reports]
    for line in fault_matrix_lines(reports):
        terminalreporter.write_line(line)
    for line in go_evaluator_lines(reports):
        terminalreporter.write_line(line, red=True, bold=True)

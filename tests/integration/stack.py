"""A throwaway SwiftDeploy project for integration tests: its own ports, names and limits,
so tests never collide with a stack deployed from the repository's own manifest."""
from __future__ import annotations

import shutil
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import requests
import yaml

from tests.conftest import SWIFTDEPLOY, REPO


def make_project(directory: Path, *, prefix: str = "sdtest", base_port: int = 18080, **overrides) -> Path:
    """Write manifest.yaml (+ policies/) into ``directory``; returns the manifest path."""
    manifest = yaml.safe_load((REPO / "manifest.yaml").read_text())
    manifest["services"]["container_name"] = f"{prefix}-app"
    manifest["nginx"].update(port=base_port, admin_port=base_port + 1, container_name=f"{prefix}-nginx",
                             contact="oncall@example.com")
    manifest["opa"].update(port=base_port + 101, container_name=f"{prefix}-opa", engine="embedded")
    manifest["network"]["name"] = f"{prefix}-net"
    manifest["logs"]["volume_name"] = f"{prefix}-logs"
    manifest["deploy"] = {"project_name": prefix, "health_timeout_seconds": 90}
    # Tests run on a busy 2-core machine: judge the policies' logic, not this box's load.
    manifest["policy_limits"]["infrastructure"] = {"min_disk_free_gb": 0.5, "max_cpu_load": 1000.0}
    # A 4 s window holds a few dozen canary requests, so its p99 is the slowest one: a single
    # stall of this box (a healthcheck start, a scheduler hiccup) must not deny a healthy canary.
    # No test relies on a latency deny; error-rate and traffic denials keep their limits.
    manifest["policy_limits"]["canary"].update(evaluation_window_seconds=4, min_requests=10,
                                               max_p99_latency_ms=5000)
    # Half the traffic to a canary: enough requests in a 4 s window for the gate at test rates.
    manifest["canary"] = {"weight": 50}
    # A never-healthy container is declared so after 10 s (not 32 s): the swarm's update monitor, waited
    # once per update, follows. The interval stays 2 s: each check is a `docker exec`, about 0.07 s of
    # CPU, and many app containers run at once while the suite runs in parallel.
    manifest["services"]["healthcheck"] = {"interval_seconds": 2, "timeout_seconds": 2, "retries": 4,
                                           "start_period_seconds": 2}
    for section, values in overrides.items():
        manifest.setdefault(section, {}).update(values)
    directory.mkdir(parents=True, exist_ok=True)
    shutil.copytree(REPO / "policies", directory / "policies", dirs_exist_ok=True)
    path = directory / "manifest.yaml"
    path.write_text(yaml.safe_dump(manifest, sort_keys=False))
    return path


@contextmanager
def evaluation_window(manifest: Path, seconds: int):
    """The canary gate's window set to ``seconds`` for a block (a Ctrl-C test needs to be sure
    the rollout is still inside its first step when it presses), then set back; only that
    field is touched, so what the block's commands change in the manifest stays."""
    def put(value: int) -> int:
        doc = yaml.safe_load(manifest.read_text())
        limits = doc["policy_limits"]["canary"]
        old = limits["evaluation_window_seconds"]
        limits["evaluation_window_seconds"] = value
        manifest.write_text(yaml.safe_dump(doc, sort_keys=False))
        return old

    before = put(seconds)
    try:
        yield
    finally:
        put(before)


def docker(*args: str, check: bool = True) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=check).stdout.strip()


def remove_stack(prefix: str) -> None:
    """Safety net after `inv teardown`: remove whatever a test left under compose project ``prefix``."""
    names = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={prefix}"],
                           capture_output=True, text=True).stdout.split()
    if names:
        subprocess.run(["docker", "rm", "-f", *names], capture_output=True)
    subprocess.run(["docker", "network", "rm", f"{prefix}-net"], capture_output=True)
    subprocess.run(["docker", "volume", "rm", f"{prefix}-logs"], capture_output=True)


def leftovers(prefix: str) -> str:
    """Containers of compose project ``prefix`` (empty string: none)."""
    return subprocess.run(["docker", "ps", "-a", "--filter", f"label=com.docker.compose.project={prefix}",
                           "--format", "{{.Names}}"], capture_output=True, text=True).stdout.strip()


def container_id_and_start(name: str) -> str:
    return docker("inspect", "--format", "{{.Id}} {{.State.StartedAt}}", name)


def wait_for(url: str, predicate, timeout: float = 60.0) -> requests.Response:
    end = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < end:
        try:
            last = requests.get(url, timeout=3)
            if predicate(last):
                return last
        except requests.RequestException as exc:
            last = exc
        time.sleep(0.5)
    raise AssertionError(f"{url}: condition not met in {timeout}s; last: {last!r}")


class Traffic:
    """Bounded background traffic to one URL (loopback only), stopped by the test."""

    def __init__(self, url: str, *, interval: float = 0.05) -> None:
        import threading

        self.url, self.interval = url, interval
        self.codes: list[int] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        deadline = time.monotonic() + 300  # never outlive a test by much
        with requests.Session() as session:
            while not self._stop.is_set() and time.monotonic() < deadline:
                try:
                    self.codes.append(session.get(self.url, timeout=5).status_code)
                except requests.RequestException:
                    self.codes.append(0)
                time.sleep(self.interval)

    def __enter__(self) -> "Traffic":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10)


class Load:
    """Steady loopback traffic at ``rate`` requests/s, a new connection per request (as most
    clients of a public endpoint make them), recording what every request got.

    ``dropped`` counts what a user would call a failed request: no answer at all, or nginx's
    502/503/504 because no app answered. A 500 from the app's own chaos is an answer.
    """

    TIMEOUT = 10.0  # seconds a request may wait for its answer, as a patient client's

    def __init__(self, url: str, *, rate: float = 25.0, verify: str | bool = True) -> None:
        import threading

        self.url, self.period, self.verify = url, 1.0 / rate, verify  # verify: the CA bundle for https
        self.results: list[tuple[int, float]] = []  # (status or 0, seconds)
        self.started: list[float] = []  # when each of ``results`` was sent (time.monotonic())
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        next_at = time.monotonic()
        deadline = next_at + 600  # never outlive a test by much
        while not self._stop.is_set() and time.monotonic() < deadline:
            started = time.monotonic()
            try:
                status = requests.get(self.url, timeout=self.TIMEOUT, headers={"Connection": "close"},
                                      verify=self.verify).status_code
            except requests.RequestException:
                status = 0
            self.started.append(started)
            self.results.append((status, time.monotonic() - started))
            next_at += self.period
            time.sleep(max(0.0, next_at - time.monotonic()))

    @property
    def dropped(self) -> list[int]:
        return [status for status, _ in self.results if status in (0, 502, 503, 504)]

    def lost(self) -> list[tuple[float, int, float]]:
        """Each dropped request as (when it was sent, status, seconds it took)."""
        return [(at, status, seconds) for at, (status, seconds) in zip(self.started, self.results)
                if status in (0, 502, 503, 504)]

    def wait_for(self, count: int, timeout: float = 10.0) -> None:
        """Until ``count`` requests have been answered (or ``timeout`` seconds passed)."""
        end = time.monotonic() + timeout
        while len(self.results) < count and time.monotonic() < end:
            time.sleep(0.05)

    def p99_ms(self) -> float:
        took = sorted(seconds for _, seconds in self.results)
        return 1000 * took[min(len(took) - 1, int(0.99 * len(took)))] if took else 0.0

    def __enter__(self) -> "Load":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)


def pressed_ctrl_c(manifest, tmp_path, when: str, *args: str) -> tuple[int, str]:
    """Run `inv ARGS` as a person does in a terminal and press Ctrl-C once it has printed ``when``;
    returns its exit code and everything it printed."""
    argv = [*SWIFTDEPLOY, *args, "--manifest", str(manifest)]
    out_file, err_file = tmp_path / "out", tmp_path / "err"
    with out_file.open("w") as out, err_file.open("w") as err:
        # Ctrl-C arrives as SIGINT with its default action, as in a terminal.
        proc = subprocess.Popen(argv, stdout=out, stderr=err, text=True, cwd=manifest.parent,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + 120
        while when not in out_file.read_text():
            assert proc.poll() is None and time.monotonic() < deadline, out_file.read_text() + err_file.read_text()
            time.sleep(0.02)  # some steps after ``when`` take a second or two; the press must land in them
        proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=60)
    return code, out_file.read_text() + err_file.read_text()

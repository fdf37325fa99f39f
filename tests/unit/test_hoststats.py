"""Host stats: the parser on captured outputs, the command on this very machine."""
from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest

from swiftlib.errors import SwiftDeployError
from swiftlib.host import Host
from swiftlib.hoststats import (
    DOCKER_ROOT_QUERY, HostStats, HostStatsUnavailable, collect_host_stats, parse_stats, stats_command,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "hoststats"


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


# -- parse_stats on captured output ------------------------------------------------
@pytest.mark.parametrize(
    "name, expected",
    [
        # 83114720 KiB free = 85.109 GB; MemAvailable 24337468 KiB = 24921.567 MB
        ("local_gnu.txt", HostStats(85.11, 0.56, 2, 24921.57, "/")),
        # 65536 KiB = 0.067 GB; CPU count from /proc/cpuinfo (no nproc, no getconf)
        ("busybox_minimal.txt", HostStats(0.07, 0.56, 2, 24921.56, "/srv/appdata")),
        # the same host without -P: the long device name wrapped onto its own line
        ("df_wrapped.txt", HostStats(0.07, 0.56, 2, 24921.56, "/srv/appdata")),
        # no MemAvailable: MemFree + Buffers + Cached = 24509792 KiB = 25098.027 MB
        ("no_memavailable.txt", HostStats(85.11, 0.56, 2, 25098.03, "/")),
    ],
)
def test_parse_captured_output(name: str, expected: HostStats) -> None:
    assert parse_stats(fixture(name)) == expected


def test_busybox_df_p_keeps_the_long_name_on_one_row() -> None:
    df = fixture("busybox_minimal.txt").split("@@swiftdeploy:df\n")[1].split("@@")[0]
    assert len(df.strip().splitlines()) == 2  # header + one row
    wrapped = fixture("df_wrapped.txt").split("@@swiftdeploy:df\n")[1].split("@@")[0]
    assert len(wrapped.strip().splitlines()) == 3


@pytest.mark.parametrize(
    "name, section, detail",
    [
        ("garbage.txt", "root", "none of the script's sections"),
        ("cut_short.txt", "meminfo", "stops inside it"),
        ("no_proc.txt", "loadavg", "No such file or directory"),
        ("df_missing_root.txt", "df", "could not measure /srv/does-not-exist (does it exist on the host?)"),
    ],
)
def test_unparseable_output_names_the_section(name: str, section: str, detail: str) -> None:
    with pytest.raises(HostStatsUnavailable) as info:
        parse_stats(fixture(name), host="deploy@prod:22")
    text = str(info.value)
    assert text.startswith("[deploy@prod:22] host stats: ")
    assert f"cannot read the {section} section" in text
    assert detail in text
    assert isinstance(info.value, SwiftDeployError) and info.value.exit_code == 1


@pytest.mark.parametrize(
    "section, replacement, message",
    [
        ("nproc", "", "nproc section"),
        ("nproc", "0", "nproc section"),
        ("meminfo", "MemTotal: 100 kB", "meminfo section"),
        ("df", "Filesystem 1024-blocks Used Available Capacity Mounted on\nrubbish", "df section"),
    ],
)
def test_broken_sections(section: str, replacement: str, message: str) -> None:
    text = fixture("local_gnu.txt")
    head, rest = text.split(f"@@swiftdeploy:{section}\n")
    tail = rest[rest.index("@@"):]
    with pytest.raises(HostStatsUnavailable, match=message):
        parse_stats(f"{head}@@swiftdeploy:{section}\n{replacement}\n{tail}")


def test_to_dict_is_the_policy_input() -> None:
    stats = parse_stats(fixture("local_gnu.txt"))
    assert stats.to_dict() == {"disk_free_gb": 85.11, "cpu_load": 0.56, "cpu_count": 2, "mem_available_mb": 24921.57}


# -- stats_command ----------------------------------------------------------------
def test_command_is_one_sh_invocation() -> None:
    argv = stats_command("/var/lib/docker")
    assert argv[:2] == ["sh", "-c"] and len(argv) == 3
    assert "root=/var/lib/docker\n" in argv[2]
    assert "df -P -k" in argv[2]
    assert DOCKER_ROOT_QUERY in stats_command(None)[2]
    assert DOCKER_ROOT_QUERY not in argv[2]


def test_hostile_path_stays_one_argument(tmp_path: Path) -> None:
    # Quoted with shlex.quote inside the script; runs for real through sh.
    odd = tmp_path / "it's a $(touch pwned) `dir`; rm -rf x"
    odd.mkdir()
    assert shlex.quote(str(odd)) in stats_command(str(odd))[2]
    out = subprocess.run(stats_command(str(odd)), capture_output=True, text=True, check=True).stdout
    stats = parse_stats(out)
    assert stats.data_root == str(odd)
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()


def test_empty_data_root_is_refused() -> None:
    with pytest.raises(ValueError):
        stats_command("")


# -- collect_host_stats on this machine ---------------------------------------------
def _docker_root() -> str:
    """What Docker reports as its data dir, or "/" when no daemon answers."""
    try:
        out = subprocess.run(shlex.split(DOCKER_ROOT_QUERY), capture_output=True, text=True, timeout=15)
    except (FileNotFoundError, subprocess.TimeoutExpired):
        return "/"
    root = out.stdout.strip()
    return root if out.returncode == 0 and root.startswith("/") else "/"


def _meminfo_kib(field: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(field)


def test_collect_on_this_machine() -> None:
    stats = collect_host_stats(Host.local())
    assert stats.data_root == _docker_root()
    assert stats.cpu_count == len(os.sched_getaffinity(0))
    assert 0.0 <= stats.cpu_load < 100 * stats.cpu_count
    assert abs(stats.cpu_load - os.getloadavg()[0]) < 2.0
    free_gb = shutil.disk_usage(stats.data_root).free / 1e9
    assert abs(stats.disk_free_gb - free_gb) < 1.0
    assert 0 < stats.mem_available_mb <= _meminfo_kib("MemTotal") * 1024 / 1e6
    assert set(stats.to_dict()) == {"disk_free_gb", "cpu_load", "cpu_count", "mem_available_mb"}


def test_collect_for_a_given_directory(tmp_path: Path) -> None:
    stats = collect_host_stats(Host.local(), str(tmp_path))
    assert stats.data_root == str(tmp_path)
    assert abs(stats.disk_free_gb - shutil.disk_usage(tmp_path).free / 1e9) < 1.0


def test_collect_for_a_missing_directory_names_the_host(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(HostStatsUnavailable, match=r"^\[local\] .*could not measure " + re.escape(str(missing))):
        collect_host_stats(Host.local(), str(missing))

"""Host facts for the infrastructure policy: disk free, load, CPU count, memory.

One shell script, one round trip, the same on this machine and over SSH; it needs
only a POSIX sh, df, cat and /proc (GNU coreutils or busybox). Build (`stats_command`),
parse (`parse_stats`) and run (`collect_host_stats`) are separate.

Units are SI, as `df -h --si` and most dashboards print them: disk_free_gb is
bytes / 1e9 and mem_available_mb is bytes / 1e6 (df -k and /proc/meminfo count KiB,
which we convert). Policy limits in the manifest must use the same units.
"""
from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any

from .errors import SwiftDeployError

MARK = "@@swiftdeploy:"
SECTIONS = ("root", "df", "loadavg", "nproc", "meminfo")
DOCKER_ROOT_QUERY = "docker info --format '{{.DockerRootDir}}'"

# Every command's stderr joins its section, so a parse error can quote what the host said.
_SCRIPT = """\
LC_ALL=C; export LC_ALL
{choose_root}
echo '{mark}root'; printf '%s\\n' "$root"
echo '{mark}df'; df -P -k -- "$root" 2>&1
echo '{mark}loadavg'; cat /proc/loadavg 2>&1
echo '{mark}nproc'; nproc 2>/dev/null || getconf _NPROCESSORS_ONLN 2>/dev/null || grep -c '^processor' /proc/cpuinfo 2>&1
echo '{mark}meminfo'; cat /proc/meminfo 2>&1
echo '{mark}end'
"""
# Docker's data dir when the daemon answers within 10 s, else "/" (no docker, daemon down).
_ASK_DOCKER = """\
t=; if command -v timeout >/dev/null 2>&1; then t='timeout 10'; fi
root=$($t {query} 2>/dev/null) || root=
case "$root" in /*) ;; *) root=/ ;; esac"""

_DF_ROW = re.compile(
    r"^(?P<fs>.+?)\s+(?P<total>\d+)\s+(?P<used>\d+)\s+(?P<avail>\d+)\s+(?P<cap>\d+%|-)\s+(?P<mount>/.*)$"
)


class HostStatsUnavailable(SwiftDeployError):
    """The host's facts could not be read; exit 1 like a failed command on the host."""

    exit_code = 1


@dataclass(frozen=True)
class HostStats:
    disk_free_gb: float
    cpu_load: float  # 1-minute load average
    cpu_count: int
    mem_available_mb: float
    data_root: str = "/"  # the path whose filesystem disk_free_gb measures

    def to_dict(self) -> dict[str, Any]:
        """The policy input: exactly these four keys."""
        return {
            "disk_free_gb": self.disk_free_gb,
            "cpu_load": self.cpu_load,
            "cpu_count": self.cpu_count,
            "mem_available_mb": self.mem_available_mb,
        }


def stats_command(data_root: str | None = None) -> list[str]:
    """argv that prints every section in one go; `None` measures Docker's data dir (or /)."""
    if data_root is None:
        choose_root = _ASK_DOCKER.format(query=DOCKER_ROOT_QUERY)
    else:
        if not data_root:
            raise ValueError("data_root must be a path, got an empty string")
        choose_root = f"root={shlex.quote(data_root)}"
    return ["sh", "-c", _SCRIPT.format(choose_root=choose_root, mark=MARK)]


def parse_stats(output: str, *, host: str | None = None) -> HostStats:
    """Turn the script's output into HostStats; raise HostStatsUnavailable naming the section."""
    sections = _split_sections(output, host)
    root = sections["root"].strip() or "/"
    return HostStats(
        disk_free_gb=_parse_df(sections["df"], root, host),
        cpu_load=_parse_loadavg(sections["loadavg"], host),
        cpu_count=_parse_nproc(sections["nproc"], host),
        mem_available_mb=_parse_meminfo(sections["meminfo"], host),
        data_root=root,
    )


def collect_host_stats(host: Any, data_root: str | None = None) -> HostStats:
    """Read the facts of `host` (a swiftlib.host.Host) in one command."""
    result = host.run(
        stats_command(data_root), timeout=30,
        hint="SwiftDeploy reads host facts with sh, df and /proc; is this a Linux host?",
    )
    return parse_stats(result.stdout, host=host.name)


def _split_sections(output: str, host: str | None) -> dict[str, str]:
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in output.splitlines():
        if line.startswith(MARK):
            current = sections.setdefault(line[len(MARK):].strip(), [])
        elif current is not None:
            current.append(line)
    joined = {name: "\n".join(lines) for name, lines in sections.items()}
    if not joined:
        raise _unparseable("root", output, host, "the output has none of the script's sections")
    missing = [s for s in SECTIONS if s not in joined]
    if missing:
        raise _unparseable(missing[0], output, host, "the output has no such section")
    if "end" not in joined:  # so the last section may be incomplete
        last = list(joined)[-1]
        raise _unparseable(last, joined[last], host, "the output stops inside it (connection cut?)")
    return joined


def _parse_df(text: str, root: str, host: str | None) -> float:
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines or not lines[0].startswith("Filesystem"):
        raise _unparseable("df", text, host, f"df could not measure {root} (does it exist on the host?)")
    # -P keeps one row per filesystem; joining also reads a row that df wrapped.
    row = _DF_ROW.match(" ".join(line.strip() for line in lines[1:]))
    if not row:
        raise _unparseable("df", text, host, f"expected `df -P -k {root}` output")
    return round(int(row["avail"]) * 1024 / 1e9, 2)


def _parse_loadavg(text: str, host: str | None) -> float:
    try:
        return float(text.split()[0])
    except (IndexError, ValueError):
        raise _unparseable("loadavg", text, host, "expected /proc/loadavg (e.g. `0.15 0.10 0.05 1/90 123`)") from None


def _parse_nproc(text: str, host: str | None) -> int:
    value = text.strip()
    if not value.isdigit() or int(value) < 1:
        raise _unparseable("nproc", text, host, "expected a CPU count from nproc or getconf")
    return int(value)


def _parse_meminfo(text: str, host: str | None) -> float:
    fields: dict[str, int] = {}
    for line in text.splitlines():
        name, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            fields[name.strip()] = int(parts[0])  # kB in /proc/meminfo means KiB
    if "MemAvailable" in fields:
        kib = fields["MemAvailable"]
    elif all(k in fields for k in ("MemFree", "Buffers", "Cached")):
        # Kernels before 3.14 lack MemAvailable; free + buffers + page cache is the
        # classic estimate (it overstates a little: not all cache can be dropped).
        kib = fields["MemFree"] + fields["Buffers"] + fields["Cached"]
    else:
        raise _unparseable("meminfo", text, host, "expected /proc/meminfo with MemAvailable or MemFree")
    return round(kib * 1024 / 1e6, 2)


def _unparseable(section: str, text: str, host: str | None, expected: str) -> HostStatsUnavailable:
    shown = text.strip()[:200] or "(empty)"
    return HostStatsUnavailable(
        f"host stats: cannot read the {section} section: {expected}; got: {shown}", host=host
    )

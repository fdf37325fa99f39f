"""Oracle: what SwiftDeploy resolves from each inventory of the corpus must equal what
the real ansible-core resolves (`ansible-inventory --list`, `--limit`, and the hosts a
play pattern selects, read from `ansible-playbook --list-hosts`).

Ansible is run once per inventory for `--list` and once for all of that inventory's
patterns (one play per pattern), in parallel threads, so the module takes seconds.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import ansible_tool
import yaml

from swiftlib.errors import InventoryError, UsageError
from swiftlib.inventory import load_inventory
from swiftlib.inventory.output import to_ansible_list, to_graph

pytestmark = pytest.mark.ansible

CORPUS = Path(__file__).resolve().parents[1] / "fixtures" / "inventories"
PATTERNS = yaml.safe_load((CORPUS / "patterns.yaml").read_text(encoding="utf-8"))
FILES = sorted(p.name for p in CORPUS.iterdir() if p.is_file() and p.name != "patterns.yaml")
MALFORMED = CORPUS / "malformed"
# malformed files in Ansible's formats that Ansible rejects too (the rest of malformed/
# are SwiftDeploy-only refusals, e.g. an invalid port, or native-format mistakes)
ANSIBLE_REJECTS = ["bad_indent.yml", "bad_section.ini", "children_loop.ini", "host_var_without_eq.ini",
                   "hosts_list.yml", "range_step_zero.ini", "range_width.ini", "trailing_colon.ini",
                   "undefined_child.ini", "unknown_section_type.ini", "unterminated_range.ini",
                   "vars_for_undefined_group.ini", "vars_without_eq.ini", "yaml_int_host.yml",
                   "yaml_not_mapping.yml", "yaml_unterminated_range.yml"]
GRAPH_CASES = ["03_children_deep.ini", "11_host_named_like_group.ini", "19_deep.yml", "21_loose_sections.yml"]
LIMIT_CASES = [("01_basic.ini", "web:db"), ("13_forward_children.ini", "europe:!france"),
               ("19_deep.yml", "standalone:&rack"), ("12_multi_group.ini", "monitoring:!frontend"),
               ("22_hosts_in_all.yml", "all:!g")]


def _tool(name: str) -> str:
    return ansible_tool(name)


@pytest.fixture(scope="module")
def ansible_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("ansible-home")
    return dict(
        os.environ,
        HOME=str(home),
        ANSIBLE_LOCAL_TEMP=str(home / "tmp"),
        ANSIBLE_INVENTORY_ENABLED="yaml,ini",  # the two formats we mirror, nothing else
        ANSIBLE_INVENTORY_UNPARSED_FAILED="True",
        ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED="True",
        ANSIBLE_LOCALHOST_WARNING="False",
        ANSIBLE_DEPRECATION_WARNINGS="False",
        ANSIBLE_NOCOLOR="1",
    )


def _run(argv: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, f"{' '.join(argv)} failed:\n{proc.stderr}"
    return proc


def _ansible_rc(path: Path, env: dict[str, str]) -> tuple[int, str]:
    proc = subprocess.run([_tool("ansible-inventory"), "-i", str(path), "--list"],
                          capture_output=True, text=True, env=env, timeout=120)
    return proc.returncode, proc.stderr


def _ansible_graph(path: Path, env: dict[str, str]) -> str:
    return _run([_tool("ansible-inventory"), "-i", str(path), "--graph"], env).stdout


def _ansible_list(path: Path, env: dict[str, str], limit: str | None = None) -> dict:
    argv = [_tool("ansible-inventory"), "-i", str(path), "--list"]
    data = json.loads(_run(argv + (["--limit", limit] if limit else []), env).stdout)
    data["_meta"].pop("profile", None)
    return data


def _ansible_selections(path: Path, patterns: list[str], env: dict[str, str], workdir: Path) -> tuple[list[set[str]], str]:
    """Hosts each pattern selects, from one `ansible-playbook --list-hosts` run."""
    plays = [{"name": f"case{i}", "hosts": p, "gather_facts": False, "tasks": []} for i, p in enumerate(patterns)]
    playbook = workdir / f"{path.name}.plays.yml"
    playbook.write_text(json.dumps(plays), encoding="utf-8")
    proc = _run([_tool("ansible-playbook"), "-i", str(path), "--list-hosts", str(playbook)], env)
    blocks = re.split(r"^\s*play #\d+ .*$", proc.stdout, flags=re.M)[1:]
    assert len(blocks) == len(patterns), proc.stdout
    results = []
    for block in blocks:
        lines = block.splitlines()
        start = next(i for i, line in enumerate(lines) if re.match(r"\s*hosts \(\d+\):", line))
        count = int(re.search(r"\((\d+)\)", lines[start]).group(1))
        results.append({line.strip() for line in lines[start + 1: start + 1 + count]})
    return results, proc.stderr


@pytest.fixture(scope="module")
def oracle(ansible_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> dict:
    workdir = tmp_path_factory.mktemp("plays")
    jobs = {}
    with ThreadPoolExecutor(max_workers=4) as pool:
        for name in FILES:
            jobs[("list", name)] = pool.submit(_ansible_list, CORPUS / name, ansible_env)
            spec = PATTERNS.get(name, {})
            patterns = spec.get("match", []) + spec.get("unmatched", [])
            if patterns:
                jobs[("select", name)] = pool.submit(_ansible_selections, CORPUS / name, patterns, ansible_env, workdir)
        for name in GRAPH_CASES:
            jobs[("graph", name)] = pool.submit(_ansible_graph, CORPUS / name, ansible_env)
        for name in ANSIBLE_REJECTS:
            jobs[("reject", name)] = pool.submit(_ansible_rc, MALFORMED / name, ansible_env)
        for name, limit in LIMIT_CASES:
            jobs[("limit", name, limit)] = pool.submit(_ansible_list, CORPUS / name, ansible_env, limit)
        return {key: job.result() for key, job in jobs.items()}


def test_corpus_is_big_enough() -> None:
    assert len(FILES) >= 22
    assert sum(len(spec["match"]) for spec in PATTERNS.values()) >= 40
    assert set(PATTERNS) <= set(FILES), "patterns.yaml names a file that is not in the corpus"


@pytest.mark.parametrize("name", FILES)
def test_list_matches_ansible_inventory(name: str, oracle: dict) -> None:
    expected = oracle[("list", name)]
    got = json.loads(json.dumps(to_ansible_list(load_inventory(CORPUS / name))))
    assert got["_meta"]["hostvars"] == expected["_meta"]["hostvars"]
    assert got == expected  # groups, their host/children lists and order, `all`, `ungrouped`


@pytest.mark.parametrize("name", FILES)
def test_connection_values_follow_hostvars(name: str, oracle: dict) -> None:
    inv = load_inventory(CORPUS / name)
    hostvars = oracle[("list", name)]["_meta"]["hostvars"]
    listed = {h for key, g in oracle[("list", name)].items() if key != "_meta" for h in g.get("hosts", [])}
    assert set(inv.hosts) == listed
    for host in inv.hosts.values():
        hv = hostvars.get(host.name, {})
        assert host.address == hv.get("ansible_host", host.name)
        assert host.port == hv.get("ansible_port")
        assert host.user == hv.get("ansible_user")
        assert host.key_file == hv.get("ansible_ssh_private_key_file")
        assert host.connection == ("local" if hv.get("ansible_connection") == "local" else "ssh")


@pytest.mark.parametrize("name,limit", LIMIT_CASES)
def test_list_with_limit_matches(name: str, limit: str, oracle: dict) -> None:
    got = json.loads(json.dumps(to_ansible_list(load_inventory(CORPUS / name), limit=limit)))
    assert got == oracle[("limit", name, limit)]


@pytest.mark.parametrize("name", GRAPH_CASES)
def test_graph_matches_ansible_inventory(name: str, oracle: dict) -> None:
    assert to_graph(load_inventory(CORPUS / name)) == oracle[("graph", name)].rstrip("\n")


_MATCH_CASES = [(n, i, p) for n in FILES for i, p in enumerate(PATTERNS.get(n, {}).get("match", []))]
_UNMATCHED_CASES = [(n, p) for n in FILES for p in PATTERNS.get(n, {}).get("unmatched", [])]


@pytest.mark.parametrize("name,index,pattern", _MATCH_CASES)
def test_pattern_selects_what_ansible_selects(name: str, index: int, pattern: str, oracle: dict) -> None:
    expected, _ = oracle[("select", name)]
    inv = load_inventory(CORPUS / name)
    if not expected[index]:  # Ansible selects nothing and carries on; we refuse
        with pytest.raises(UsageError, match="selects no host"):
            inv.select(pattern)
        return
    got = [h.name for h in inv.select(pattern)]
    assert len(got) == len(set(got)), "a host was selected twice"
    assert set(got) == expected[index]


@pytest.mark.parametrize("name,pattern", _UNMATCHED_CASES)
def test_unmatched_term_is_refused_where_ansible_only_warns(name: str, pattern: str, oracle: dict) -> None:
    _, stderr = oracle[("select", name)]
    assert "Could not match supplied host pattern" in stderr
    with pytest.raises(UsageError, match=re.escape(repr(pattern))):
        load_inventory(CORPUS / name).select(pattern)


@pytest.mark.parametrize("name", ANSIBLE_REJECTS)
def test_malformed_rejected_by_both(name: str, oracle: dict) -> None:
    rc, stderr = oracle[("reject", name)]
    assert rc != 0, f"ansible-inventory accepted {name}"
    assert "Failed to parse inventory" in stderr
    with pytest.raises(InventoryError) as info:
        load_inventory(MALFORMED / name)
    assert info.value.path == str(MALFORMED / name) and info.value.line
    assert info.value.exit_code == 2

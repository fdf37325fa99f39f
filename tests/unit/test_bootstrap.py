"""swiftlib.bootstrap: pure builders and parsers, driven by tests/fixtures/bootstrap/."""
from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from swiftlib.bootstrap import commands as cmd
from swiftlib.bootstrap.images import BASE_PACKAGES, base_recipe, nginx_recipe, prometheus_recipe
from swiftlib.bootstrap.rootfs import BUILT_FROM_LABEL, RECIPE_LABEL, Recipe

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "bootstrap"
BUILDERS = yaml.safe_load((FIXTURES / "builders.yaml").read_text())
VERSIONS = yaml.safe_load((FIXTURES / "compose_versions.yaml").read_text())


@pytest.mark.parametrize("case", BUILDERS, ids=[f"{i:02d}-{c['call']}" for i, c in enumerate(BUILDERS)])
def test_builder_returns_exactly_the_expected_argv(case: dict):
    argv = getattr(cmd, case["call"])(*case.get("args", []), **case.get("kwargs", {}))
    assert argv == case["argv"]
    for one in argv if argv and isinstance(argv[0], list) else [argv]:
        assert all(type(part) is str for part in one)
        assert shlex.split(shlex.join(one)) == one


def test_apt_install_refuses_an_empty_package_list():
    with pytest.raises(ValueError):
        cmd.apt_install_argv([])


@pytest.mark.parametrize("case", VERSIONS, ids=[repr(c["text"][:30]) for c in VERSIONS])
def test_parse_compose_version(case: dict):
    expected = tuple(case["version"]) if case["version"] else None
    assert cmd.parse_compose_version(case["text"]) == expected


def test_pick_debian_mirror_takes_the_release_entry_not_updates_security_or_vendors():
    text = (FIXTURES / "indextargets.txt").read_text()
    assert cmd.pick_debian_mirror(text, "bookworm") == "http://mirror.invalid/debian/"
    assert cmd.pick_debian_mirror(text, "trixie") is None
    assert cmd.pick_debian_mirror("", "bookworm") is None


@pytest.mark.parametrize(
    ("fixture", "codename"),
    [("os-release-bookworm", "bookworm"), ("os-release-ubuntu", "noble"), ("os-release-none", "")],
)
def test_parse_os_codename(fixture: str, codename: str):
    assert cmd.parse_os_codename((FIXTURES / fixture).read_text()) == codename


def test_trixie_sources_use_the_given_mirror_and_the_debian_keyring():
    text = cmd.trixie_sources_text("http://mirror.invalid/debian/")
    fields = dict(line.split(": ", 1) for line in text.splitlines() if not line.startswith("#"))
    assert fields == {
        "Types": "deb",
        "URIs": "http://mirror.invalid/debian/",
        "Suites": "trixie",
        "Components": "main",
        "Signed-By": cmd.DEBIAN_KEYRING,
    }


@pytest.mark.parametrize("bad", ["", "mirror.invalid/debian", "http://a b/", "ftp://x/debian"])
def test_trixie_sources_reject_what_is_not_a_mirror_uri(bad: str):
    with pytest.raises(ValueError):
        cmd.trixie_sources_text(bad)


def test_trixie_pin_stays_below_the_release_priority():
    text = cmd.trixie_pin_text()
    assert "Pin: release n=trixie" in text
    assert "Package: *" in text
    priority = int(text.rsplit("Pin-Priority:", 1)[1])
    assert 1 <= priority <= 100
    for bad in (0, 101, 500, 990):
        with pytest.raises(ValueError):
            cmd.trixie_pin_text(bad)


def test_dockerd_start_detaches_and_redirects_every_stream():
    line = cmd.dockerd_start_cmdline("/var/log/my dockerd.log")
    assert line.startswith("setsid -f dockerd ")
    assert ">>'/var/log/my dockerd.log' 2>&1 </dev/null" in line


def test_dockerd_start_line_returns_at_once_even_though_the_program_keeps_running(tmp_path: Path):
    # The same line with a long sleeper in place of dockerd: the caller must not wait for it.
    pidfile = tmp_path / "pid"
    sleeper = shlex.join(["sh", "-c", f"echo $$ > {pidfile}; exec sleep 30"])
    line = cmd.dockerd_start_cmdline(str(tmp_path / "log")).replace("dockerd", sleeper, 1)
    done = subprocess.run(line, shell=True, capture_output=True, timeout=10)
    assert done.returncode == 0
    for _ in range(50):
        if pidfile.exists() and pidfile.read_text().strip():
            break
        time.sleep(0.1)
    pid = int(pidfile.read_text())
    try:
        assert os.getsid(pid) == pid, "the program leads its own session"
    finally:
        os.kill(pid, signal.SIGTERM)  # the sleeper this test started, by its id


def test_rootfs_slim_only_touches_paths_inside_the_root():
    for argv in cmd.rootfs_slim_argvs("/srv/root/"):
        paths = [part for part in argv if part.startswith("/")]
        assert paths and all(p.startswith("/srv/root/") for p in paths), argv


def test_image_inspect_parse_handles_images_without_labels():
    assert cmd.parse_image_inspect('{"id": "sha256:1", "size": 5, "labels": null}') == {
        "id": "sha256:1", "size": 5, "labels": {}}
    format_arg = cmd.image_inspect_argv("x")[4]
    assert "{{json .Config.Labels}}" in format_arg


def test_dockerfile_on_puts_from_first():
    assert cmd.dockerfile_on("img:1", ["STOPSIGNAL SIGQUIT"]) == "FROM img:1\nSTOPSIGNAL SIGQUIT\n"


def _digest(directory: Path) -> str:
    return subprocess.run(cmd.tree_digest_cmdline(str(directory)), shell=True, check=True,
                          capture_output=True, text=True).stdout.strip()


def test_tree_digest_follows_content_and_names_but_not_bytecode(tmp_path: Path):
    app = tmp_path / "my app"  # a space proves the directory is quoted
    (app / "pkg").mkdir(parents=True)
    (app / "a.py").write_text("print(1)\n")
    (app / "pkg" / "b.py").write_text("x = 1\n")
    first = _digest(app)
    assert len(first) == 64
    (app / "__pycache__").mkdir()
    (app / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    (app / "c.pyc").write_bytes(b"\0")
    assert _digest(app) == first
    (app / "pkg" / "b.py").write_text("x = 2\n")
    changed = _digest(app)
    assert changed != first
    (app / "pkg" / "b.py").rename(app / "pkg" / "c.py")
    assert _digest(app) not in (first, changed)


def test_recipe_digest_is_stable_and_tracks_every_part():
    base = Recipe(packages=("python3",), changes=("ENV A=1",))
    assert base.digest == Recipe(packages=("python3",), changes=("ENV A=1",)).digest
    variants = [
        Recipe(packages=("python3", "curl"), changes=("ENV A=1",)),
        Recipe(packages=("python3",), changes=("ENV A=2",)),
        Recipe(packages=("python3",), changes=("ENV A=1",), suite="trixie"),
        Recipe(packages=("python3",), changes=("ENV A=1",), dockerfile_lines=("STOPSIGNAL SIGQUIT",)),
        Recipe(packages=("python3",), changes=("ENV A=1",), tweaks=(("true",),)),
    ]
    assert len({base.digest, *(v.digest for v in variants)}) == 1 + len(variants)


def test_nginx_recipe_runs_nginx_in_the_foreground_and_says_where_it_came_from():
    recipe = nginx_recipe()
    assert "nginx-light" in recipe.packages
    assert 'CMD ["nginx", "-g", "daemon off;"]' in recipe.changes
    assert "STOPSIGNAL SIGQUIT" in recipe.dockerfile_lines  # docker import refuses STOPSIGNAL
    labels = recipe.all_labels()
    assert labels[RECIPE_LABEL] == recipe.digest
    assert "Debian" in labels[BUILT_FROM_LABEL]
    assert "Debian" in labels["org.opencontainers.image.description"]
    for change in recipe.changes:  # each label/change survives the import argv intact
        assert change in cmd.docker_import_argv("t.tar", "n", changes=recipe.changes)


def test_prometheus_recipe_runs_like_the_docker_hub_image_and_says_where_it_came_from():
    recipe = prometheus_recipe()
    assert recipe.packages == ("prometheus",)
    # The compose file runs /bin/prometheus as nobody with /prometheus as storage, whichever image it gets.
    assert 'ENTRYPOINT ["/bin/prometheus"]' in recipe.changes and "USER nobody" in recipe.changes
    assert ("chown", "65534:65534", "{root}/prometheus") in recipe.tweaks
    labels = recipe.all_labels()
    assert "Debian" in labels[BUILT_FROM_LABEL] and "prometheus" in labels[BUILT_FROM_LABEL]
    assert "Debian bookworm's prometheus package" in labels["org.opencontainers.image.description"]
    assert recipe.digest != nginx_recipe().digest


def test_base_recipe_has_what_the_app_dockerfile_imports():
    recipe = base_recipe()
    assert set(BASE_PACKAGES) <= set(recipe.packages)
    assert {"python3-flask", "python3-prometheus-client", "gunicorn"} <= set(recipe.packages)
    assert any(c.startswith("ENV PATH=") for c in recipe.changes)
    json.loads(recipe.changes[-1].removeprefix("CMD "))


@pytest.mark.parametrize("message, package", [
    ("libatomic.so.1: cannot open shared object file: No such file or directory", "libatomic1"),
    ("/lib/x86_64-linux-gnu/libatomic.so.1: file too short", "libatomic1"),
    ("libfoo.so.3: cannot open shared object file", None),
    ("something else went wrong", None),
])
def test_a_load_error_names_the_debian_package(message, package):
    from swiftlib.bootstrap.syslibs import package_for

    assert package_for(message) == package


def test_two_bootstraps_packing_the_same_recipe_at_once_leave_one_whole_tarball(tmp_path):
    """Each pack writes its own part file: with one shared `<tarball>.part`, one run moved the other's
    half-written file into the cache, or failed its own `mv` (real tar and mv, on this machine)."""
    import tarfile
    from concurrent.futures import ThreadPoolExecutor

    from swiftlib.bootstrap.rootfs import _pack
    from swiftlib.host import Host

    roots = []
    for name in ("rootfs.aaaaaa", "rootfs.bbbbbb"):
        root = tmp_path / name
        (root / "usr").mkdir(parents=True)
        (root / "usr" / "blob").write_bytes(os.urandom(4 << 20))  # a few MB: tar takes long enough to overlap
        roots.append(str(root))
    tarball = str(tmp_path / "recipe.tar")
    for _ in range(3):
        with ThreadPoolExecutor(2) as pool:
            for done in [pool.submit(_pack, Host.local(), root, tarball) for root in roots]:
                done.result()
        with tarfile.open(tarball) as archive:
            assert archive.getmember("./usr/blob").size == 4 << 20
        assert sorted(p.name for p in tmp_path.iterdir()) == ["recipe.tar", *sorted(Path(r).name for r in roots)]

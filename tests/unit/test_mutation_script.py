"""scripts/mutation.py's own logic: which module a mutant belongs to, the kill rates it reports,
and the mutmut configuration it writes (running mutmut is `make mutation`, not a unit test)."""
from __future__ import annotations

import configparser

from scripts import mutation

MODULES = ("swiftlib/inventory/patterns.py", "swiftlib/tracks.py", "swiftlib/manifest/checks.py")

RESULTS = """\
    swiftlib.inventory.patterns.x_match__mutmut_1: killed
    swiftlib.inventory.patterns.x_match__mutmut_2: survived
    swiftlib.inventory.patterns.xǁPatternǁselect__mutmut_1: timeout
    swiftlib.tracks.x_split__mutmut_1: no tests
    swiftlib.tracks.x_split__mutmut_2: killed
    swiftlib.manifest.checks.x_describe__mutmut_5: suspicious
    swiftlib.manifest.checks_extra.x_other__mutmut_1: killed
"""


def test_a_mutant_belongs_to_the_module_it_is_named_after() -> None:
    assert mutation.module_of("swiftlib.tracks.x_split__mutmut_3", MODULES) == "swiftlib/tracks.py"
    assert mutation.module_of("swiftlib.inventory.patterns.xǁPatternǁselect__mutmut_1", MODULES) == \
        "swiftlib/inventory/patterns.py"
    assert mutation.module_of("swiftlib.manifest.checks_extra.x_other__mutmut_1", MODULES) is None
    assert mutation.module_of("swiftlib.trackside.x_f__mutmut_1", MODULES) is None


def test_killed_counts_timeouts_and_the_rate_is_over_every_mutant() -> None:
    tallies, survivors = mutation.tally(RESULTS, MODULES)
    patterns = tallies["swiftlib/inventory/patterns.py"]
    assert (patterns.killed, patterns.survived, patterns.untested, patterns.total) == (2, 1, 0, 3)
    tracks = tallies["swiftlib/tracks.py"]
    assert (tracks.killed, tracks.untested, tracks.total, tracks.rate) == (1, 1, 2, 0.5)
    checks = tallies["swiftlib/manifest/checks.py"]
    assert (checks.other, checks.total, checks.rate) == (1, 1, 0.0)
    assert survivors == ["swiftlib.inventory.patterns.x_match__mutmut_2"]


def test_the_table_has_a_row_per_module_and_a_total() -> None:
    tallies, _ = mutation.tally(RESULTS, MODULES)
    rows = mutation.table(tallies).splitlines()
    assert rows[2] == "| `swiftlib/inventory/patterns.py` | 2 | 1 | 0 | 3 | 67% |"
    assert rows[-1] == "| all | 3 | 1 | 1 | 6 | 50% |"


def test_the_config_mutates_only_the_modules_and_tests_with_the_unit_tier() -> None:
    parser = configparser.ConfigParser()
    parser.read_string(mutation.config(MODULES, ["policies", "templates"]))
    section = parser["mutmut"]
    assert section["only_mutate"].split() == list(MODULES)
    assert section["also_copy"].split() == ["policies", "templates"]
    assert section["pytest_add_cli_args_test_selection"] == "tests/unit"


def test_the_default_modules_exist() -> None:
    assert all((mutation.REPO / path).is_file() for path in mutation.MODULES)

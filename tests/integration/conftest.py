"""Integration tests drive real components: Docker (CI starts it with `inv bootstrap`), sshd,
nginx, Ansible. Each test file says which with a marker (``pytestmark = pytest.mark.docker``);
tests/conftest.py fails -- never skips -- a marked test whose component is missing, naming it."""


def pytest_terminal_summary(terminalreporter):
    """The fault matrix's table (command, fault point, fault, recovered, failed requests), when it ran."""
    import sys

    matrix = sys.modules.get("tests.integration.test_fault_matrix")
    for line in matrix.table_lines() if matrix else []:
        terminalreporter.write_line(line)

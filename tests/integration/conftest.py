"""Integration tests drive real components: Docker (CI starts it with `inv bootstrap`), sshd,
nginx, Ansible. Each test file says which with a marker (``pytestmark = pytest.mark.docker``);
tests/conftest.py fails -- never skips -- a marked test whose component is missing, naming it."""


def fault_matrix_lines(reports) -> list[str]:
    """The fault matrix's table (command, fault point, fault, recovered, failed requests) when it ran, for
    tests/conftest.py to write in pytest's summary. Its rows ride on the cases' test reports: with `pytest -n`
    the cases run in a worker process and only their reports reach the one that writes the summary."""
    from tests.integration.test_fault_matrix import ROW_PROPERTY, table_lines

    return table_lines([value for report in reports if getattr(report, "when", None) == "call"
                        for name, value in getattr(report, "user_properties", ()) if name == ROW_PROPERTY])

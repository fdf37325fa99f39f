"""Integration tests drive real components: Docker (CI starts it with `inv bootstrap`), sshd,
nginx, Ansible. Each test file says which with a marker (``pytestmark = pytest.mark.docker``);
tests/conftest.py fails -- never skips -- a marked test whose component is missing, naming it."""

"""`fab -H deploy@host:2222 deploy` runs SwiftDeploy's tasks against that host.

Fabric hands each task a Connection instead of Invoke's Context; the tasks turn it into
a verified SSH target (known_hosts checked, see swiftlib/remote/connect.py) and run the
same steps as `inv`. For many hosts use `inv deploy --hosts ...` or `--inventory`.
"""
from swiftlib.cli.tasks import ns  # noqa: F401  (Fabric looks for a collection named ns)

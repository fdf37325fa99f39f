"""A Docker Swarm formed from an inventory: `inv cluster --init` and `inv cluster` (status).

The inventory's groups ``managers`` and ``workers`` name the nodes (``layout``). What each node
says of itself and what a manager of the swarm says of its members are read over SSH with the
``docker`` CLI (``observed``), turned into a plan of joins, role changes, labels and removals by pure
code (``plan``), and carried out over ``Host`` (``effects``). The ID of the swarm SwiftDeploy created
is kept in the project's ``.swiftdeploy/cluster.json`` (``record``): only that swarm is ever changed,
and a host already in another swarm is refused, never taken over. ``status`` turns the same
observations into one row per node. ``run`` joins the pieces for the command line.
"""

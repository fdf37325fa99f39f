"""`inv TASK` from this checkout: SwiftDeploy's tasks (swiftlib/cli/tasks.py) under Invoke's own program.

`swiftdeploy TASK` is the same collection with SwiftDeploy's stricter command line (README, Tasks).
"""
from swiftlib.cli.tasks import *  # noqa: F401,F403  (the tasks, for `import tasks` too)
from swiftlib.cli.tasks import ns  # noqa: F401  (Invoke looks for a collection named ns)

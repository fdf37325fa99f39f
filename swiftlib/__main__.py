"""`python -m swiftlib TASK ...` is `swiftdeploy TASK ...`."""
from swiftlib.cli.program import main

main()

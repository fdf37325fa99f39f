"""How a command runs, whatever started it (`swiftdeploy`/`inv`, `fab -H`, the Ansible plugin).

    table.COMMANDS   each command: its flow, whether it holds the deploy lock, its hooks, its Ctrl-C note
    driver.run       one command on its targets: audit check, hooks, lock, the flow, the notes
    console          the terminal's side of a run: step lines, the PLAY RECAP, --json, the exit code

The entry points only parse their arguments into a `Request` and the targets, and call `driver.run`.
"""

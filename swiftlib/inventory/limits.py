"""Hard limits on what one inventory may make SwiftDeploy do.

An inventory is input: a few hostile bytes (`h[0:99999999]`, a YAML alias bomb)
must not hang the run or eat the machine's memory. Each limit is checked before
the expensive step it guards, and crossing one raises InventoryError (exit 2)
naming the file, the line and the limit (for the `--limit` regex limits a
UsageError, also exit 2). The values are far above what a real inventory needs.
"""
from __future__ import annotations

# The inventory file; the rest is not read (a huge file, /dev/zero). PyYAML
# reads about 0.2 MB a second, so this also bounds the time a YAML file takes.
MAX_FILE_BYTES = 8 * 1024 * 1024

# Distinct hosts in one inventory; one host range (`web[0001:9999]`) may not
# expand to more either. Checked before a range is expanded.
MAX_HOSTS = 10_000

# Groups in one inventory, and how deep they may nest (the longest chain of
# child groups from `all`).
MAX_GROUPS = 5_000
MAX_GROUP_DEPTH = 100

# Host entries (a host listed under three groups counts three) and variable
# assignments the parsers make, in total. Bounds repeated lines such as
# `h[0:9999]` written a thousand times.
MAX_ENTRIES = 1_000_000

# YAML inventories: nesting depth, and nodes once every alias is expanded (an
# alias counts as a copy of what it names). Checked while the file is read, so
# an alias bomb ("billion laughs") is refused before it can expand.
MAX_YAML_DEPTH = 100
MAX_YAML_NODES = 500_000

# Host and group names: DNS names end at 253 characters. Bounds what a `--limit`
# pattern is matched against.
MAX_NAME_LENGTH = 255

# `--limit '~regex'` terms (a UsageError, exit 2; see regexguard.py): length,
# choices (quantifiers that are not fixed and alternatives; a group repeated
# without bound may hold none), and the time matching every host and group name
# may take, checked after each name.
MAX_REGEX_LENGTH = 256
MAX_REGEX_CHOICES = 4
MAX_REGEX_SECONDS = 2.0

# Host-group memberships once child groups are applied (a host in `web`, a child
# of `prod`, has two), and the approximate characters every host's variables take
# written out (what `inv inventory --list` prints) once each group's variables are
# applied to each of its hosts. Checked before the variables are merged.
MAX_MEMBERSHIPS = 1_000_000
MAX_HOSTVARS_SIZE = 50_000_000

# The `inv inventory --graph` tree, which prints a group once per path to it.
MAX_GRAPH_LINES = 1_000_000

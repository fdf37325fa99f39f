"""Hard limits on what one inventory may make SwiftDeploy do.

An inventory is input: a few hostile bytes (`h[0:99999999]`, a YAML alias bomb)
must not hang the run or eat the machine's memory. Each limit is checked before
the expensive step it guards, and crossing one raises InventoryError (exit 2)
naming the file, the line and the limit. The values are far above what a real
inventory needs.
"""
from __future__ import annotations

# Distinct hosts in one inventory; one host range (`web[0001:9999]`) may not
# expand to more either. Checked before a range is expanded.
MAX_HOSTS = 10_000

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

"""The manifest: `load` (the file: BOM, duplicate keys, limits), `model` (typed, validated, frozen,
plus a host's overrides), `checks` (field validators), `edit` (in-place edits of `services.*`)."""

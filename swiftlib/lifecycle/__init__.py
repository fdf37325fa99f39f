"""The deployment lifecycle: steps (render, preflight, gates, compose, health) and the
flows composed from them (deploy, promote, teardown). Each step takes a Project, a
Target and a Reporter, records one Ansible-shaped result and raises on failure."""

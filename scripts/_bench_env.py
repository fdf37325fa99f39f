"""Imported first by every benchmark: the commands it times run as a user's do.

A user's runs load compiled bytecode (Python writes it beside the sources at the first run); with
PYTHONDONTWRITEBYTECODE set, as some shells and CI images do, every command would compile every
module again and a benchmark would time that instead (about 0.1-0.2 s per command here).
"""
import os

os.environ.pop("PYTHONDONTWRITEBYTECODE", None)

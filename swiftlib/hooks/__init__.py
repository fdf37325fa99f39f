"""Lifecycle hooks: executables the project keeps in its hooks directory, run on the
controller before and after a command (like Kamal's ``.kamal/hooks``).

- ``context``  hook names, the command's context and outcome, the hook's environment (pure)
- ``layout``   checks the hooks directory up front: which hooks are present, and which
               files are broken or misspelt hooks (ConfigError, exit 2)
- ``output``   a bounded tail of a hook's output, control characters escaped (pure)
- ``runner``   runs one hook (a real subprocess) and returns a ``HookResult``;
               ``run_pre_hook`` raises ``HookFailed`` (exit 7), ``run_post_hook`` never does

A command uses them in this order::

    present = validate_hooks(manifest.hooks_dir, root=project_root)      # before anything
    context = new_context("deploy", hosts, version=..., mode=...)
    result = run_pre_hook(context, hooks_dir=..., root=project_root)   # HookFailed stops here
    ... the command ...
    result = run_post_hook(context, Outcome(exit_code, decision), hooks_dir=..., root=...)
"""
from __future__ import annotations

from .context import (COMMANDS, DECISIONS, HOOK_NAMES, RESERVED_ENV, HookContext, Outcome, hook_env, hook_name,
                      new_context)
from .layout import validate_hooks
from .output import OutputTail, escape_controls
from .runner import DEFAULT_TIMEOUT, HookResult, run_hook, run_post_hook, run_pre_hook

__all__ = [
    "COMMANDS", "DECISIONS", "DEFAULT_TIMEOUT", "HOOK_NAMES", "RESERVED_ENV", "HookContext", "HookResult",
    "OutputTail", "Outcome", "escape_controls", "hook_env", "hook_name", "new_context", "run_hook",
    "run_post_hook", "run_pre_hook", "validate_hooks",
]

"""Ansible action plugin ``swiftdeploy``: SwiftDeploy's deploy/promote/rollback/rollout for the current host.

An action plugin runs on the controller, where swiftlib lives (a plain module would be
shipped to the target, which has no swiftlib). For each host of the play it builds
the ``TargetSpec`` the CLI builds from an inventory (``ansible_connection=local`` →
this machine; otherwise SSH to ``ansible_host``/``ansible_port``/``ansible_user``/
``ansible_ssh_private_key_file``, plus ``swiftdeploy_overrides``) and runs the command
through ``swiftlib.run.driver``, the one runner ``inv`` and ``fab`` use too: the same
flow, deploy lock, audit check and pre-/post- hooks (once per host: each host's task is
a run of its own). Ansible's own SSH connection is never opened: SwiftDeploy connects
with its own host-key policy (known_hosts, never prompting).

Result: ``changed`` iff a step reported "changed"; ``failed`` with ``rc`` = SwiftDeploy's
exit code (README, Exit codes: 3 denied by policy, 4 engine unavailable, 5 unhealthy, ...) and
``msg`` = the failing step's message (exit 6 is reported as Ansible's UNREACHABLE
instead of failed); ``results`` = every step. ``--check`` → nothing started or written; ``--diff`` → before/after of the
rendered files. Documentation: ``ansible-doc -M ansible-compat/library swiftdeploy``.
"""
from __future__ import annotations

import json
import sys
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase

# ansible-compat/action_plugins/swiftdeploy.py -> the checkout that holds swiftlib/
DEFAULT_ROOT = Path(__file__).resolve().parent.parent.parent
SSH_CONNECTIONS = (None, "", "ssh", "smart", "paramiko", "paramiko_ssh")

ARGUMENT_SPEC: dict[str, Any] = dict(
    manifest=dict(type="path", default="manifest.yaml"),
    state=dict(type="str", default="deployed", choices=["deployed", "promoted", "rolled_back", "rolled_out"]),
    reason=dict(type="str", default=""),
    mode=dict(type="str", default="stable", choices=["canary", "stable"]),
    project_root=dict(type="path"),
    accept_new_host_keys=dict(type="bool", default=False),
    connect_timeout=dict(type="float"),
    # deploy.runtime: swarm: the inventory whose `managers`/`workers` are the swarm (run the task once).
    cluster_inventory=dict(type="path"),
)


# The command of swiftlib's table each state runs.
COMMANDS = {"deployed": "deploy", "promoted": "promote", "rolled_back": "rollback", "rolled_out": "rollout"}


def import_swiftlib(project_root: str | None) -> None:
    """Put the SwiftDeploy checkout on sys.path (the controller's Python runs swiftlib)."""
    root = Path(project_root).resolve() if project_root else DEFAULT_ROOT
    if not (root / "swiftlib" / "__init__.py").is_file():
        raise AnsibleActionFail(f"project_root {root}: no swiftlib/ package there; point project_root "
                                "at the SwiftDeploy checkout")
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    try:
        import swiftlib.run.driver  # noqa: F401  (fails early when a dependency is missing)
    except ImportError as exc:
        raise AnsibleActionFail(f"cannot import swiftlib from {root}: {exc}; install SwiftDeploy's dependencies "
                                f"(pip install -e {root}) into the Python that runs ansible-playbook "
                                f"({sys.executable})") from exc


def plain(value: Any) -> Any:
    """Ansible's tagged/lazy containers as plain JSON data (what the manifest validator expects)."""
    return json.loads(json.dumps(value))


def target_spec(host_vars: Mapping[str, Any], name: str) -> Any:
    """The TargetSpec for this host, read from its (templated) connection variables."""
    from swiftlib.lifecycle.fleet import TargetSpec
    from swiftlib.remote.connect import HostSpec

    def first(*keys: str) -> Any:
        for key in keys:
            if host_vars.get(key) not in (None, ""):
                return host_vars[key]
        return None

    overrides = host_vars.get("swiftdeploy_overrides") or {}
    if not isinstance(overrides, Mapping):
        raise AnsibleActionFail(f"host {name}: swiftdeploy_overrides must be a mapping of manifest sections, "
                                f"got {type(overrides).__name__}")
    overrides = plain(overrides)
    connection = first("ansible_connection")
    if connection == "local":
        return TargetSpec(name, None, overrides)
    if connection not in SSH_CONNECTIONS:
        raise AnsibleActionFail(f"host {name}: ansible_connection={connection!r} is not supported; SwiftDeploy "
                                "connects over ssh or local")
    port = first("ansible_port", "ansible_ssh_port")
    try:
        port = int(port) if port is not None else None
    except (TypeError, ValueError):
        raise AnsibleActionFail(f"host {name}: ansible_port must be an integer, got {port!r}") from None
    ssh = HostSpec(name, str(first("ansible_host", "ansible_ssh_host") or name), port,
                   first("ansible_user", "ansible_ssh_user"),
                   first("ansible_ssh_private_key_file", "ansible_private_key_file"))
    return TargetSpec(name, ssh, overrides)


def file_diffs(before: Mapping[str, str | None], after: Mapping[str, str]) -> list[dict[str, str]]:
    """Ansible diff entries (before/after + headers) for the files that differ."""
    return [{"before_header": f"{name} (on the host)", "after_header": f"{name} (rendered)",
             "before": before.get(name) or "", "after": text}
            for name, text in after.items() if before.get(name) != text]


def summarize(results: list[Any], code: int, state: str, check: bool) -> dict[str, Any]:
    """The module result Ansible shows for one host, from SwiftDeploy's step results."""
    changed_steps = [r.task for r in results if r.status == "changed"]
    out: dict[str, Any] = {"changed": bool(changed_steps), "rc": code, "state": state, "check_mode": check,
                           "results": [r.to_dict() for r in results]}
    failures = [r for r in results if r.status in ("failed", "unreachable")]
    if code:
        # Exit 6 is Ansible's UNREACHABLE (recap unreachable=1, ansible-playbook exit 4); the rest fail.
        # failed=False is stated there, or Ansible would derive failed from the non-zero rc.
        unreachable = code == 6
        out.update(failed=not unreachable, unreachable=unreachable)
        out["msg"] = failures[0].msg if failures else f"SwiftDeploy exited {code}"
        if failures:
            out["failed_step"] = failures[0].task
    else:
        verb = "would change" if check else "changed"
        out["msg"] = f"{verb}: {', '.join(changed_steps)}" if changed_steps else "nothing to change"
    return out


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _requires_connection = False  # ansible-core >= 2.19: no Ansible connection for this host
    _supports_check_mode = True
    _supports_async = False

    def run(self, tmp: Any = None, task_vars: dict[str, Any] | None = None) -> dict[str, Any]:
        _, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        result = super().run(tmp, task_vars)
        task_vars = task_vars or {}
        import_swiftlib(args["project_root"])
        from swiftlib.errors import SwiftDeployError

        check, diff = bool(self._task.check_mode), bool(self._task.diff)
        name = str(task_vars.get("inventory_hostname") or "local")
        keys = ("ansible_connection", "ansible_host", "ansible_ssh_host", "ansible_port", "ansible_ssh_port",
                "ansible_user", "ansible_ssh_user", "ansible_ssh_private_key_file", "ansible_private_key_file",
                "swiftdeploy_overrides")
        host_vars = {k: self._templar.template(task_vars[k]) for k in keys if k in task_vars}
        try:
            result.update(self._run_swiftdeploy(args, target_spec(host_vars, name), check, diff))
        except SwiftDeployError as exc:  # before any step ran: manifest, options
            result.update(failed=True, changed=False, rc=exc.exit_code, msg=str(exc), results=[])
        except AnsibleActionFail:
            raise
        except Exception as exc:  # a bug: show it the way Ansible shows a module traceback
            result.update(failed=True, changed=False, rc=1, msg=f"SwiftDeploy failed unexpectedly: {exc!r}",
                          exception=traceback.format_exc(), results=[])
        return result

    def _run_swiftdeploy(self, args: dict[str, Any], spec: Any, check: bool, diff: bool) -> dict[str, Any]:
        from swiftlib.lifecycle import render_step
        from swiftlib.lifecycle.engine_choice import choose_engine
        from swiftlib.lifecycle.fleet import FleetOptions
        from swiftlib.results import Reporter
        from swiftlib.run import driver
        from swiftlib.run.table import Request

        state, mode = args["state"], args["mode"]
        reason = args["reason"] or ("ansible-playbook" if state == "rolled_back" else "")
        request = Request(check=check, diff=diff, mode=mode if state == "promoted" else "", reason=reason)
        opts = FleetOptions(connect_timeout=args["connect_timeout"], accept_new_host_keys=args["accept_new_host_keys"],
                            parallel=False)
        diffs: list[dict[str, str]] = []

        def planned_files(project: Any, target: Any) -> dict[str, str]:
            """What this run will render on the target (before the flow changes anything)."""
            if state == "deployed":
                return render_step.rendered_files(project, target, choose_engine(target, fresh=True))
            if state == "rolled_out":
                return {}  # the split moves step by step; the steps' results say how
            current = target.read_state().get("mode") or target.manifest.services.mode
            mode_wanted = "stable" if state == "rolled_back" else mode
            if current == mode_wanted:
                return {}
            return render_step.rendered_files(project, target, choose_engine(target),
                                              manifest=target.manifest.with_mode(mode_wanted))

        def before_flow(project: Any, target: Any) -> None:  # in the host's lock, before anything changes
            if diff:
                after = planned_files(project, target)
                diffs.extend(file_diffs({n: target.workspace.read(n) for n in after}, after))

        reporter = Reporter(lambda line: None, quiet=True)
        def targets(project: Any) -> list[Any]:
            """This host, or with deploy.runtime: swarm the swarm of ``cluster_inventory`` (one target)."""
            if project.manifest.deploy.runtime != "swarm":
                return [spec]
            from swiftlib.errors import UsageError
            from swiftlib.lifecycle.fleet import target_specs

            if not args["cluster_inventory"]:
                raise UsageError("deploy.runtime is swarm: give cluster_inventory (the inventory whose groups "
                                 "`managers` and `workers` are the swarm) and run the task once (run_once: true)")
            return target_specs(inventory=args["cluster_inventory"], runtime="swarm")

        driver.run(COMMANDS[state], request, args["manifest"], targets, reporter, opts, first=before_flow)
        out = summarize(reporter.results, reporter.recap.exit_code(), state, check)
        # Only what the run really changes (or would change, in check mode) is a diff.
        if diffs and any(r.status == "changed" and r.task in ("render", "promote", "rollback", "start canary", "traffic") for r in reporter.results):
            out["diff"] = diffs
        return out

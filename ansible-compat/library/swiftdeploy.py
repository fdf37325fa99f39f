#!/usr/bin/python
"""Documentation for the ``swiftdeploy`` action (the work is done by action_plugins/swiftdeploy.py).

Ansible pairs an action plugin with a module of the same name: ``ansible-doc`` reads
this file, the controller runs the action plugin. If this file ever runs on a target
(the action plugin was not found), it fails with a message saying how to fix that.
"""
from __future__ import annotations

DOCUMENTATION = r"""
---
module: swiftdeploy
short_description: Deploy, promote, roll out or roll back a SwiftDeploy stack on the play's hosts
description:
  - Runs SwiftDeploy's lifecycle for each host of the play, from the controller, with the same code
    as C(inv deploy) and C(inv promote).
  - C(state=deployed) runs render, validate, the pre_deploy policy gate, C(docker compose up) and the
    health check. C(state=promoted) switches the app to O(mode); going to stable asks the canary policy
    first. C(state=rolled_back) is C(inv rollback). C(state=rolled_out) is C(inv rollout), the canary
    through C(canary.steps), one gated evaluation window each; a deny rolls back by itself and fails the
    task with C(rc=3); after the last step the canary is promoted to stable. Set the play's C(serial) to 1
    to roll out one host at a time.
  - The host is reached as an inventory says. C(ansible_connection=local) deploys on the controller
    itself; any other host is reached over SSH by SwiftDeploy (not by Ansible) from C(ansible_host)
    (default C(inventory_hostname)), C(ansible_port), C(ansible_user) and
    C(ansible_ssh_private_key_file). Host keys are checked against C(~/.ssh/known_hosts) and never
    prompted for.
  - >-
    Per-host manifest values come from the host variable C(swiftdeploy_overrides), a mapping of
    manifest sections, for example C({"nginx": {"port": 9080}, "deploy": {"remote_dir": "apps/web"}}).
    Ansible replaces (does not merge) a dict variable set at several levels, so set it in one place
    per host.
  - The task reports C(changed) only when a step changed something; a second run against an unchanged
    host reports C(ok). A policy denial fails the task with C(rc=3) and starts nothing.
version_added: "1.0.0"
author:
  - SwiftDeploy maintainers
options:
  manifest:
    description:
      - Path to the project's C(manifest.yaml) on the controller. Relative paths are resolved against
        the directory C(ansible-playbook) runs in.
    type: path
    default: manifest.yaml
  state:
    description:
      - C(deployed) runs the whole deploy flow; C(promoted) switches the app to O(mode);
        C(rolled_back) removes the canary and sends all traffic back to stable (never gated);
        C(rolled_out) runs the gated canary steps and promotes (no diff is shown for it).
    type: str
    choices: [deployed, promoted, rolled_back, rolled_out]
    default: deployed
  reason:
    description:
      - Why a rollback is made; recorded in the audit trail (only with C(state=rolled_back)).
    type: str
    default: ""
  mode:
    description:
      - The mode to promote to (only with C(state=promoted)).
    type: str
    choices: [canary, stable]
    default: stable
  project_root:
    description:
      - The SwiftDeploy checkout to import C(swiftlib) from. Defaults to the checkout that holds this
        plugin (C(ansible-compat/..)).
    type: path
  accept_new_host_keys:
    description:
      - Record unknown SSH host keys in known_hosts instead of refusing them (changed keys are always
        refused).
    type: bool
    default: false
  connect_timeout:
    description:
      - SSH connect timeout in seconds (default the manifest's C(deploy.connect_timeout_seconds)).
    type: float
  cluster_inventory:
    description:
      - "With C(deploy.runtime: swarm) in the manifest, the inventory file whose groups C(managers) and
        C(workers) are the swarm; the task then acts on the whole swarm (one target), so run it once
        (C(run_once: true)). Required then, ignored otherwise."
    type: path
attributes:
  check_mode:
    support: full
    description: Starts, stops and recreates nothing and writes no file; reports what would change and
      what the policy gates decide.
  diff_mode:
    support: full
    description: Shows the rendered C(docker-compose.yml) and C(nginx.conf) against what is on the host.
notes:
  - Runs on the controller. Its Python needs SwiftDeploy's dependencies (C(pip install -e .) in the
    checkout).
  - Exit codes of SwiftDeploy are returned as RV(rc) (2 invalid input, 3 denied by policy, 4 policy
    engine unavailable, 5 unhealthy after acting, 6 host unreachable).
"""

EXAMPLES = r"""
- name: Deploy the stack
  swiftdeploy:
    manifest: "{{ playbook_dir }}/../manifest.yaml"
    state: deployed

- name: Promote the canary to stable
  swiftdeploy:
    manifest: "{{ playbook_dir }}/../manifest.yaml"
    state: promoted
    mode: stable
"""

RETURN = r"""
rc:
  description: SwiftDeploy's exit code for this host (0 ok).
  returned: always
  type: int
  sample: 3
msg:
  description: The failing step's message, or which steps changed.
  returned: always
  type: str
  sample: "infrastructure policy denied (embedded): disk free 40.1 GB is below 1000000 GB"
failed_step:
  description: The name of the step that failed.
  returned: failure
  type: str
  sample: "policy: pre_deploy"
results:
  description: Every step SwiftDeploy ran on the host, in order.
  returned: always
  type: list
  elements: dict
  contains:
    task:
      description: Step name (render, validate, policy, up, health, ...).
      type: str
    host:
      description: Inventory name of the host.
      type: str
    status:
      description: One of ok, changed, failed, skipped, unreachable.
      type: str
    msg:
      description: What the step did or found.
      type: str
    data:
      description: Step details (policy decision, files, containers).
      type: dict
    exit_code:
      description: SwiftDeploy's exit code; present when the step failed.
      type: int
diff:
  description: Before/after of each rendered file the run changes (or would change), with --diff.
  returned: diff mode, when a file changes
  type: list
  elements: dict
state:
  description: The requested state.
  returned: always
  type: str
check_mode:
  description: Whether the run was a check (nothing changed).
  returned: always
  type: bool
"""


def main() -> None:
    from ansible.module_utils.basic import AnsibleModule

    module = AnsibleModule(argument_spec={}, bypass_checks=True, supports_check_mode=True)
    module.fail_json(msg="swiftdeploy runs as an action plugin on the controller; put ansible-compat/action_plugins "
                         "on the action plugin path (ansible.cfg action_plugins, or keep the playbook in ansible-compat/)")


if __name__ == "__main__":
    main()

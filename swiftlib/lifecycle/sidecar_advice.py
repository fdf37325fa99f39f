"""What to do when the OPA sidecar does not answer, judged from the compose file the target has.

The sidecar is the compose service ``opa``, and a stack has it only when it was deployed with the
sidecar engine (``opa.engine: sidecar``, or ``auto`` with the OPA image on the host). Telling a user
to check a service their compose file does not declare sends them looking for something that was
never there: when it is declared, the advice is to look at it; when not, to deploy one or to use
the embedded engine.
"""
from __future__ import annotations

from typing import Any

import yaml

from ..commands import COMPOSE_FILE
from ..errors import SwiftDeployError

SERVICE = "opa"


def compose_services(text: str | None) -> set[str] | None:
    """The services a compose file declares (none when it does not parse); None when there is no file."""
    if text is None:
        return None
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError:
        return set()
    services = data.get("services") if isinstance(data, dict) else None
    return {str(name) for name in services} if isinstance(services, dict) else set()


def advice(services: set[str] | None, where: str) -> str:
    """What to do, for a stack in ``where`` (a directory, and the host when remote) declaring ``services``."""
    if services is not None and SERVICE in services:
        return (f"its docker-compose.yml in {where} declares the opa service, which does not answer: "
                "see `docker compose ps opa` and `docker compose logs opa` there (`inv up` starts it)")
    missing = f"there is no docker-compose.yml in {where}" if services is None else \
        f"its docker-compose.yml in {where} declares no opa service"
    return (f"this stack runs no OPA sidecar: {missing}. To ask a sidecar, deploy the stack with one "
            "(opa.engine: sidecar, or auto with the OPA image on the host; then `inv deploy`); to ask the same "
            "policies without one, use the embedded engine (opa.engine: embedded; `inv policy-test` uses it "
            "unless given --engine sidecar)")


def for_target(target: Any) -> str:
    """The advice for a ``lifecycle.context.Target``, reading its compose file (a failed read counts as none)."""
    try:
        text = target.workspace.read(COMPOSE_FILE)
    except (OSError, SwiftDeployError):
        text = None
    where = f"{target.project_dir} on {target.name}" if target.host.is_remote else target.project_dir
    return advice(compose_services(text), where)

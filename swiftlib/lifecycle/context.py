"""What every lifecycle step works with: the project (controller side) and a target.

``Project`` is the checkout that holds manifest.yaml, templates/ and policies/.
``Target`` is one Docker host plus the project directory on it, with the manifest
as it applies to that host (inventory overrides included).
"""
from __future__ import annotations

import json
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Mapping

from ..audit.log import AuditLog
from ..host import Host
from ..manifest.model import Manifest
from ..manifest.load import load_manifest
from ..runtime import Runtime, open_runtime
from ..workspace import LocalWorkspace, Workspace, inside

STATE_FILE = ".swiftdeploy/state.json"
PROMOTION = "promotion"  # state key: a promotion past its gate, until it is finished or rolled back


@dataclass
class Project:
    root: Path
    manifest_path: Path
    manifest: Manifest

    @classmethod
    def load(cls, manifest_path: str | Path = "manifest.yaml") -> "Project":
        path = Path(manifest_path).absolute()  # not resolve(): a symlinked manifest must be seen as one
        return cls(root=path.parent, manifest_path=path, manifest=load_manifest(path))

    def reload(self) -> "Project":
        return Project.load(self.manifest_path)

    @property
    def templates_dir(self) -> Path:
        return Path(__file__).resolve().parent.parent.parent / "templates"

    @property
    def policies_dir(self) -> Path:
        """Refused (exit 2) when it resolves outside the project, or to it, through a symlink."""
        return Path(inside(str(self.root), self.manifest.opa.policies_dir)).resolve()

    @property
    def audit(self) -> AuditLog:
        return AuditLog(self.root / self.manifest.audit.history_file, root=self.root)

    @property
    def report_path(self) -> Path:
        # The directories on the way must stay in the project; a link as the file is replaced, not followed.
        return Path(inside(str(self.root), self.manifest.audit.report_file, follow=False))


@dataclass
class Target:
    host: Host
    workspace: Workspace
    manifest: Manifest
    address: str = "127.0.0.1"  # where the controller reaches the host's public port
    overrides: Mapping[str, Any] = field(default_factory=dict)
    # The secrets' values, read once per run (lifecycle.secret_files); never in a repr or a comparison.
    secret_values: dict[str, str] | None = field(default=None, repr=False, compare=False)
    # How the stack's containers are run on this target: chosen once, here where the target is opened.
    runtime: Runtime = field(default=None, repr=False, compare=False)  # type: ignore[assignment]
    # write_state reads, merges and writes the whole file: concurrent checks (nginx -t and compose
    # config each remember a pass) must not drop each other's key.
    _state_lock: Any = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.runtime is None:
            self.runtime = open_runtime(self)

    @classmethod
    def local(cls, project: Project, host: Host | None = None) -> "Target":
        return cls(host or Host.local(), LocalWorkspace(project.root), project.manifest)

    @property
    def name(self) -> str:
        return self.host.name

    def manifest_from(self, project: Project) -> Manifest:
        """The project's manifest as it applies to this host (inventory overrides included)."""
        if not self.overrides:
            return project.manifest
        from ..manifest.model import build_manifest
        from ..manifest.load import load_raw

        return build_manifest(load_raw(project.manifest_path), overrides=self.overrides)

    @property
    def project_dir(self) -> str:
        return self.workspace.root

    @property
    def compose_project(self) -> str:
        return self.manifest.deploy.project_name

    @property
    def policies_subdir(self) -> str:
        """Where the OPA sidecar's policies live inside the project directory."""
        return self.manifest.opa.policies_dir.removeprefix("./").rstrip("/")

    def public_url(self, path: str) -> str:
        tls = self.manifest.tls
        if tls:
            return f"https://{self.address}:{tls.port}{path}"
        return f"http://{self.address}:{self.manifest.nginx.port}{path}"

    @contextmanager
    def loopback(self, port: int) -> Iterator[str]:
        """Base URL reaching ``port`` on the target's loopback (an SSH tunnel when remote)."""
        if not self.host.is_remote:
            yield f"http://127.0.0.1:{port}"
            return
        from ..tunnel import forward  # remote only: keeps paramiko off the local start-up path

        with forward(self.host, port) as local_port:
            yield f"http://127.0.0.1:{local_port}"

    def read_state(self) -> dict[str, Any]:
        text = self.workspace.read(STATE_FILE)
        if not text:
            return {}
        try:
            data = json.loads(text)
        except (ValueError, RecursionError):
            return {}
        return data if isinstance(data, dict) else {}

    def unfinished_promotion(self) -> dict[str, Any] | None:
        """What a promotion past its gate recorded (its versions and images) until it completed; None otherwise."""
        marker = self.read_state().get(PROMOTION)
        return marker if isinstance(marker, dict) else None

    def write_state(self, **values: Any) -> None:
        with self._state_lock:
            state = self.read_state()
            if all(key in state and state[key] == value for key, value in values.items()):
                return  # already so: no write (over SSH, a round trip)
            state.update(values)
            self.workspace.write(STATE_FILE, json.dumps(state, indent=2, sort_keys=True) + "\n")


@dataclass(frozen=True)
class Options:
    """Flags shared by mutating tasks (Ansible's habits)."""

    check: bool = False
    diff: bool = False

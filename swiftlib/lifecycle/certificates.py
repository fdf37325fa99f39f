"""The certificate nginx serves on a target (``tls``): placed before nginx starts, renewed when due,
applied by a graceful reload (new connections get the new certificate, none is dropped).

On the host it is ``.swiftdeploy/tls/`` (the chain, the key 0400, the DH group), a directory nginx
mounts read-only. Where it comes from (``tls.source``):

* ``files``  — the chain and key the manifest names, checked (``certinfo.problems``), then copied;
* ``local``  — a leaf for ``tls.hosts`` signed by the project CA (made once, ``tls.keystore``);
* ``acme``   — an ACME CA; the HTTP-01 answers are files in ``.swiftdeploy/acme-challenge/`` that
  nginx serves on ``nginx.port``. A first deploy starts nginx with a one-day placeholder, then
  `finish` orders the real certificate once nginx answers the challenge.

Keys travel only inside the SSH session (``write_private``) and are never read back, printed or
audited: the audit records names, issuer, expiry and the certificate's sha256. The ``tls`` modules
(cryptography) are imported inside the functions, past their "no tls" exit: a plain-HTTP stack's
commands never load them.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import CommandFailed, ConfigError, HealthCheckFailed
from ..http import TlsCheck
from ..manifest.model import Tls
from ..results import Reporter, StepResult
from .context import Options, Project, Target

if TYPE_CHECKING:
    from ..tls.certinfo import CertInfo

TLS_DIR = ".swiftdeploy/tls"
CHAIN = f"{TLS_DIR}/fullchain.pem"
KEY = f"{TLS_DIR}/privkey.pem"
DHPARAM = f"{TLS_DIR}/dhparam.pem"
CHALLENGES = ".swiftdeploy/acme-challenge"
GENERATED = (CHAIN, KEY, DHPARAM)
STATE_KEY = "tls"  # host state: what was placed (source, sha256, placeholder)
DH_GROUP = Path(__file__).resolve().parent.parent.parent / "templates" / "ffdhe2048.pem"


@dataclass(frozen=True)
class Verdict:
    """What a target's certificate needs: keep, place (files/local now), placeholder or acme (after up)."""

    action: str
    why: str


def served(target: Target) -> CertInfo | None:
    """The leaf on the host (a public certificate: reading it back shows nothing secret)."""
    from ..tls import certinfo
    text = target.workspace.read(CHAIN)
    if not text:
        return None
    try:
        return certinfo.describe(certinfo.load_chain(text.encode())[0])
    except ValueError:
        return None


def _state(target: Target) -> dict:
    found = target.read_state().get(STATE_KEY)
    return found if isinstance(found, dict) else {}


def judge(tls: Tls, info: CertInfo | None, state: dict, now: datetime, *, wanted_sha256: str | None = None,
          renew: bool = False) -> Verdict:
    """Pure: what the served certificate ``info`` needs for ``tls`` (``state``: what was placed)."""
    from ..tls import certinfo
    if tls.source == "files":
        if info is not None and info.fingerprint == wanted_sha256 and state.get("sha256") == wanted_sha256:
            return Verdict("keep", f"the files' certificate is served ({info.days_left(now):g} days left)")
        return Verdict("place", "the files' certificate is not on the host yet" if info is None
                       else "the files hold another certificate")
    fresh = "none on the host yet" if info is None else None
    if info is not None:
        missing = [h for h in tls.hosts if not certinfo.covers(info.names, h)]
        if state.get("source") != tls.source:
            fresh = f"it came from {state.get('source') or 'elsewhere'}, tls.source is {tls.source}"
        elif state.get("sha256") != info.fingerprint:
            fresh = "the host holds a certificate this project did not place"
        elif missing:
            fresh = f"it does not name {', '.join(missing)}"
        elif state.get("placeholder"):
            fresh = "a placeholder serves until the CA issues"
        elif info.days_left(now) <= tls.renew_days:
            fresh = f"due: {info.days_left(now):g} days left, tls.renew_days is {tls.renew_days}"
        elif renew:
            return Verdict("keep", f"not due: {info.days_left(now):g} days left (renewed at {tls.renew_days})")
    if fresh is None:
        return Verdict("keep", f"{info.days_left(now):g} days left (renewed at {tls.renew_days})")  # type: ignore[union-attr]
    if tls.source == "local":
        return Verdict("place", fresh)
    return Verdict("placeholder" if info is None else "acme", fresh)


def prepare(project: Project, target: Target, reporter: Reporter, opts: Options, *,
            now: datetime | None = None, renew: bool = False) -> StepResult | None:
    """Before nginx (re)starts: the certificate it will load is on the host. Reloads a running nginx.

    ``renew`` (`certs --renew`): a certificate kept is reported with why it is not due."""
    if target.manifest.tls is None:
        return None
    from ..tls import certinfo, keystore, local_ca
    now = now or certinfo.now_utc()
    chain_key = keystore.files_source(project.root, target.manifest) if target.manifest.tls.source == "files" else None
    wanted = None
    if chain_key is not None:
        _refuse_unusable(project, target, chain_key)
        wanted = certinfo.describe(certinfo.load_chain(chain_key[0])[0]).fingerprint
    verdict = judge(target.manifest.tls, served(target), _state(target), now, wanted_sha256=wanted, renew=renew)
    if verdict.action in ("keep", "acme"):  # acme renewal needs nginx serving the challenge: `finish`
        if not opts.check:
            _support_files(target)
        if renew and verdict.action == "keep" and target.manifest.tls.source != "acme":
            reporter.record(StepResult("certificate", target.name, "ok", verdict.why))
        return None
    if opts.check:
        return reporter.record(StepResult("certificate", target.name, "changed",
                                          f"would place a {_kind(verdict)} for {', '.join(target.manifest.tls.hosts)} "
                                          f"({verdict.why})", {"check": True}))
    if verdict.action == "placeholder":
        chain, key = local_ca.self_signed(target.manifest.tls.hosts, now)
        return _place(project, target, reporter, chain, key, verdict, placeholder=True)
    if chain_key is None:  # local
        ca = keystore.project_ca(project.root, target.manifest.deploy.project_name, now, create=True)
        chain_key = local_ca.issue_leaf(ca[0], ca[1], target.manifest.tls.hosts, now)  # type: ignore[index]
    return _place(project, target, reporter, chain_key[0], chain_key[1], verdict)


def finish(project: Project, target: Target, reporter: Reporter, opts: Options, *, renew: bool = False,
           now: datetime | None = None) -> StepResult | None:
    """After nginx answers on ``nginx.port``: order from the ACME CA what is pending or due."""
    tls = target.manifest.tls
    if tls is None or tls.source != "acme":
        return None
    from ..tls import acme_issue, certinfo, keystore
    now = now or certinfo.now_utc()
    verdict = judge(target.manifest.tls, served(target), _state(target), now, renew=renew)
    if verdict.action == "keep":
        if renew:
            reporter.record(StepResult("certificate", target.name, "ok", verdict.why))
        return None
    if opts.check:
        return reporter.record(StepResult("certificate", target.name, "changed",
                                          f"would order a certificate for {', '.join(tls.hosts)} from {tls.acme.directory} "
                                          f"({verdict.why})", {"check": True}))
    account = keystore.account_key(project.root, tls.acme.directory, create=True)
    trust: str | bool = True
    if tls.acme.directory_ca_file:
        trust = str(Path(project.root, tls.acme.directory_ca_file))

    def publish(token: str, body: str) -> None:
        target.workspace.write(f"{CHALLENGES}/{token}", body)

    try:
        issued = acme_issue.issue(tls.acme.directory, tls.hosts, account, email=tls.acme.email,  # type: ignore[arg-type]
                                  directory_trust=trust, publish=publish,
                                  unpublish=lambda token: target.workspace.remove(f"{CHALLENGES}/{token}"))
    except acme_issue.AcmeFailed as exc:
        msg = (f"no certificate from {tls.acme.directory} for {', '.join(tls.hosts)}: {exc}; the CA must reach "
               f"http://<each name>:{target.manifest.nginx.port}/.well-known/acme-challenge/ on this host "
               "(a CA on the public internet needs nginx.port 80)")
        reporter.record(StepResult("certificate", target.name, "failed", msg, {}, HealthCheckFailed.exit_code))
        raise HealthCheckFailed(msg, host=target.name) from exc
    return _place(project, target, reporter, issued.chain_pem, issued.key_pem, verdict)


def _kind(verdict: Verdict) -> str:
    return {"placeholder": "placeholder certificate (until the ACME CA issues)"}.get(verdict.action, "certificate")


def _refuse_unusable(project: Project, target: Target, chain_key: tuple[bytes, bytes]) -> None:
    tls = target.manifest.tls
    problems = usable_problems(project, target.manifest, chain_key)
    if problems:
        raise ConfigError(f"tls.files.certificate: {tls.files.certificate}: " + "; ".join(problems),  # type: ignore[union-attr]
                          host=target.name)


def usable_problems(project: Project, manifest, chain_key: tuple[bytes, bytes], now: datetime | None = None) -> list[str]:
    """Why the chain and key cannot serve ``tls.hosts`` (validated against ``tls.ca_file`` when set)."""
    from ..tls import certinfo, keystore
    trust_path = keystore.trust_file(project.root, manifest) if manifest.tls.ca_file else None
    trusted = certinfo.load_trust(keystore.read_pem(project.root, trust_path, "the trusted CA", key="tls.ca_file")) \
        if trust_path else None
    return certinfo.problems(chain_key[0], chain_key[1], manifest.tls.hosts, now or certinfo.now_utc(), trusted)


def _support_files(target: Target) -> None:
    """The DH group and the challenge directory nginx mounts (written only when they differ)."""
    target.workspace.write(DHPARAM, DH_GROUP.read_text())
    target.host.run(["mkdir", "-p", "--", target.workspace.path(CHALLENGES)])


def _place(project: Project, target: Target, reporter: Reporter, chain: bytes, key: bytes, verdict: Verdict, *,
           placeholder: bool = False) -> StepResult:
    from ..tls import certinfo
    info = certinfo.describe(certinfo.load_chain(chain)[0])
    tls = target.manifest.tls
    # Key and chain are two files, then a reload: until nginx serves them the state claims no certificate,
    # so a run stopped in between (the key never read back to compare) is placed again by the next one.
    target.write_state(**{STATE_KEY: {"source": tls.source, "sha256": "", "placeholder": placeholder}})
    _support_files(target)
    target.workspace.write_private(KEY, key.decode(), 0)  # nginx's master (root) reads it, as owner
    target.workspace.write(CHAIN, chain.decode())
    # nginx's root master reads the directory as its owner only when root placed it; else it must be traversable.
    target.host.run(["sh", "-c", '[ "$(id -u)" = 0 ] || chmod 711 -- "$1"', "sd", target.workspace.path(TLS_DIR)])
    reloaded = _reload(target)
    target.write_state(**{STATE_KEY: {"source": tls.source, "sha256": info.fingerprint, "placeholder": placeholder}})
    data = {"source": tls.source, "names": list(info.names), "issuer": info.issuer,
            "not_after": info.not_after_text, "sha256": info.fingerprint,
            "placeholder": placeholder, "why": verdict.why, "reloaded": reloaded}
    project.audit.append("certificate", data, host=target.name)
    said = "placeholder certificate" if placeholder else f"certificate from {info.issuer}"
    return reporter.record(StepResult("certificate", target.name, "changed",
                                      f"{said} for {', '.join(info.names)} until {data['not_after']} ({verdict.why})"
                                      + ("; nginx reloaded" if reloaded else ""), data))


def _reload(target: Target) -> bool:
    """A graceful reload of the running nginx so new connections get the new certificate (False: not running).

    It returns once the old workers are gone: until then one may still accept a connection and hand
    it the old certificate (a client right after `deploy` was given the placeholder)."""
    from .nginx_include import check_and_reload, nginx_running

    if not nginx_running(target):
        return False
    exited, said, _ = check_and_reload(target, drain=True)
    if exited != 0:
        raise CommandFailed("nginx -t", exited, said, host=target.name,
                            hint="the new certificate is on the host but nginx still serves the old one")
    return True


def stand_in(hosts: tuple[str, ...]) -> dict[str, str]:
    """The files of ``.swiftdeploy/tls/`` with a throwaway certificate, for `nginx -t` before the real one exists."""
    from ..tls import certinfo, local_ca
    chain, key = local_ca.self_signed(hosts, certinfo.now_utc())
    return {"fullchain.pem": chain.decode(), "privkey.pem": key.decode(), "dhparam.pem": DH_GROUP.read_text()}


def client_check(project: Project, target: Target) -> TlsCheck | None:
    """How the health check verifies the public HTTPS port: the first of ``tls.hosts``, against
    ``tls.ca_file`` (local: the project CA; else the system's store). None without tls."""
    tls = target.manifest.tls
    if tls is None:
        return None
    from ..tls import keystore
    return TlsCheck(server_name=tls.hosts[0].replace("*", "health-check", 1),
                    ca_file=keystore.trust_file(project.root, target.manifest))


def view(project: Project, target: Target, now: datetime | None = None) -> dict | None:
    """The certificate the host serves, as `inv certs --json` and the policy input show it (None: no tls)."""
    tls = target.manifest.tls
    if tls is None:
        return None
    from ..tls import certinfo, keystore
    now = now or certinfo.now_utc()
    info = served(target)
    found: dict = {"source": tls.source, "hosts": list(tls.hosts), "port": tls.port, "served": info is not None}
    if info is not None:
        found.update(info.to_dict(now))
        found["placeholder"] = bool(_state(target).get("placeholder"))
    if tls.source == "local":
        found["ca_file"] = str(keystore.ca_file(project.root))
    return found


def policy_input(project: Project | None, target: Target, now: datetime | None = None) -> dict | None:
    """``input.tls`` of the infrastructure policy: days left on the certificate this deploy will serve
    (``tls.files``' when ``project`` is given, else what the host serves: `status`), and whether the
    deploy renews it itself (local and ACME certificates due for renewal are). None without tls."""
    tls = target.manifest.tls
    if tls is None:
        return None
    from ..tls import certinfo, keystore
    now = now or certinfo.now_utc()
    if tls.source == "files":
        if project is not None:
            chain, _ = keystore.files_source(project.root, target.manifest)
            info = certinfo.describe(certinfo.load_chain(chain)[0])
        else:
            info = served(target)
        return {"source": "files", "days_left": info.days_left(now) if info else 0.0, "renews": False}
    info = served(target)
    verdict = judge(tls, info, _state(target), now)
    return {"source": tls.source, "days_left": info.days_left(now) if info else 0.0,
            "renews": verdict.action != "keep"}


def summary(target: Target, now: datetime | None = None) -> dict | None:
    """What `status` and the dashboard show of the served certificate (None without tls)."""
    tls = target.manifest.tls
    if tls is None:
        return None
    from ..tls import certinfo
    now = now or certinfo.now_utc()
    info = served(target)
    if info is None:
        return {"source": tls.source, "text": "no certificate on the host yet (inv deploy places one)"}
    days = info.days_left(now)
    placeholder = bool(_state(target).get("placeholder"))
    text = (f"{', '.join(info.names)}: {days:g} days left ({info.issuer})"
            + (", a placeholder until the ACME CA issues" if placeholder else ""))
    return {"source": tls.source, "names": list(info.names), "issuer": info.issuer, "days_left": days,
            "not_after": info.not_after_text, "placeholder": placeholder, "text": text}


def certs(project: Project, target: Target, reporter: Reporter, opts: Options, *, renew: bool = False) -> StepResult:
    """`inv certs`: the certificate the host serves; with ``renew`` what is due is renewed first."""
    tls = target.manifest.tls
    if tls is None:
        return reporter.record(StepResult("certs", target.name, "ok", "no tls section: plain HTTP on "
                                          f"nginx.port {target.manifest.nginx.port}", {"certificates": []}))
    if renew:
        from .nginx_include import nginx_running

        if tls.source == "acme" and not opts.check and not nginx_running(target):
            msg = "nginx does not run, so the ACME CA cannot reach the challenge; run `inv deploy` first"
            reporter.record(StepResult("certs", target.name, "failed", msg, {}, ConfigError.exit_code))
            raise ConfigError(msg, host=target.name)
        prepare(project, target, reporter, opts, renew=True) or finish(project, target, reporter, opts, renew=True)
    shown = view(project, target)
    data = {"certificates": [shown] if shown and shown.get("served") else [], **({"ca_file": shown["ca_file"]}
                                                                                 if shown and "ca_file" in shown else {})}
    if not shown or not shown.get("served"):
        return reporter.record(StepResult("certs", target.name, "ok", "no certificate on the host yet; "
                                          "`inv deploy` places one", data))
    line = (f"{', '.join(shown['names'])}: issuer {shown['issuer']}, expires {shown['not_after']} "
            f"({shown['days_left']:g} days left, renewed at {tls.renew_days})"
            + (" — a placeholder until the ACME CA issues" if shown.get("placeholder") else ""))
    if tls.source == "files":
        line += "; tls.source files: replace the files and deploy to renew"
    # What was renewed is the `certificate` step's change; this line only shows what is served now.
    return reporter.record(StepResult("certs", target.name, "ok", line, data))

"""HTTPS on a real stack: nginx serves a certificate that real TLS clients (curl, Python's ssl,
`openssl s_client`) verify against the CA the test trusts, plain HTTP redirects, a renewal under
50 req/s drops no request, an ACME CA (Debian's pebble, validating HTTP-01 for real) issues the
certificate, bad certificate files are refused at validate naming the file (exit 2), and a
certificate about to expire is denied by the infrastructure policy before anything starts (exit 3).
"""
from __future__ import annotations

import hashlib
import http.client
import http.server
import json
import os
import socket
import ssl
import subprocess
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import requests
import yaml

from swiftlib.tls import acme_issue, certinfo, local_ca
from tests.conftest import exited, run_cli
from tests.integration.pebble import pebble
from tests.integration.stack import Load, leftovers, make_project, remove_stack

pytestmark = pytest.mark.docker

LOCAL, LOCAL_PORT, LOCAL_TLS = "sdtlslocal", 30080, 30443
ACME, ACME_PORT, ACME_TLS = "sdtlsacme", 30280, 30643
FILES, FILES_PORT, FILES_TLS = "sdtlsfiles", 30480, 30843


def with_tls(manifest: Path, **tls) -> Path:
    raw = yaml.safe_load(manifest.read_text())
    raw["tls"] = tls
    manifest.write_text(yaml.safe_dump(raw, sort_keys=False))
    return manifest


def served_sha256(port: int, ca_file: str, name: str = "localhost") -> str:
    """The certificate a verified handshake with ``name`` got (Python's ssl, as a browser checks it)."""
    context = ssl.create_default_context(cafile=ca_file)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=name) as tls:
            return hashlib.sha256(tls.getpeercert(binary_form=True)).hexdigest()


def https_get(port: int, path: str, ca_file: str) -> tuple[int, dict[str, str], str]:
    context = ssl.create_default_context(cafile=ca_file)
    connection = http.client.HTTPSConnection("localhost", port, context=context, timeout=10)
    try:
        connection.request("GET", path)
        answer = connection.getresponse()
        return answer.status, {k.lower(): v for k, v in answer.getheaders()}, answer.read().decode()
    finally:
        connection.close()


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory):
    manifest = with_tls(make_project(tmp_path_factory.mktemp("tls-local"), prefix=LOCAL, base_port=LOCAL_PORT),
                        source="local", hosts=["localhost", "127.0.0.1"], port=LOCAL_TLS, hsts_seconds=600)
    deployed = exited(run_cli(manifest, "deploy"))
    yield manifest, deployed.stdout
    run_cli(manifest, "teardown", "--clean")
    remove_stack(LOCAL)


def test_a_fresh_project_serves_https_that_curl_verifies_with_the_project_ca(local_stack) -> None:
    manifest, printed = local_stack
    ca = manifest.parent / ".swiftdeploy/ca/ca.pem"
    assert "certificate from SwiftDeploy local CA" in printed
    assert f"https://127.0.0.1:{LOCAL_TLS}/healthz ok" in printed  # the deploy's own check went over TLS
    body = subprocess.run(["curl", "-sS", "--fail", "--cacert", str(ca), f"https://localhost:{LOCAL_TLS}/healthz"],
                          capture_output=True, text=True, timeout=30)
    assert body.returncode == 0, body.stderr
    assert json.loads(body.stdout)["status"] == "ok"
    # Without the project CA the same request must fail verification (curl's exit 60): the check is real.
    untrusted = subprocess.run(["curl", "-sS", f"https://localhost:{LOCAL_TLS}/healthz"], capture_output=True,
                               text=True, timeout=30)
    assert untrusted.returncode == 60, untrusted.stderr


def test_python_ssl_verifies_the_chain_and_each_name(local_stack) -> None:
    manifest, _ = local_stack
    ca = str(manifest.parent / ".swiftdeploy/ca/ca.pem")
    status, headers, _ = https_get(LOCAL_TLS, "/healthz", ca)
    assert status == 200 and headers["strict-transport-security"] == "max-age=600"
    assert served_sha256(LOCAL_TLS, ca, "127.0.0.1") == served_sha256(LOCAL_TLS, ca, "localhost")
    with pytest.raises(ssl.SSLCertVerificationError):
        served_sha256(LOCAL_TLS, ca, "shop.example.com")  # a name the certificate does not carry


def test_openssl_verifies_and_only_tls_12_and_13_are_offered(local_stack) -> None:
    manifest, _ = local_stack
    ca = str(manifest.parent / ".swiftdeploy/ca/ca.pem")

    def s_client(*flags: str) -> str:
        return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{LOCAL_TLS}", "-servername", "localhost",
                               "-CAfile", ca, "-verify_return_error", *flags], input="", capture_output=True,
                              text=True, timeout=30).stdout

    assert "Verify return code: 0 (ok)" in s_client("-tls1_3")
    assert "Verify return code: 0 (ok)" in s_client("-tls1_2")
    # Mozilla intermediate: TLS 1.1 and older are refused (openssl's own TLS 1.1 needs its level 0).
    assert "Cipher is (NONE)" in s_client("-tls1_1", "-cipher", "DEFAULT@SECLEVEL=0")


def test_plain_http_redirects_but_answers_the_acme_challenge_and_liveness(local_stack) -> None:
    redirect = requests.get(f"http://localhost:{LOCAL_PORT}/orders?id=7", allow_redirects=False, timeout=5)
    assert redirect.status_code == 308
    assert redirect.headers["Location"] == f"https://localhost:{LOCAL_TLS}/orders?id=7"
    challenge = requests.get(f"http://localhost:{LOCAL_PORT}/.well-known/acme-challenge/none", allow_redirects=False,
                             timeout=5)
    assert challenge.status_code == 404  # served from the challenge directory, not redirected
    assert requests.get(f"http://localhost:{LOCAL_PORT}/nginx-health", timeout=5).status_code == 200


def test_certs_json_names_issuer_expiry_and_the_ca_file_and_no_key_anywhere(local_stack) -> None:
    manifest, printed = local_stack
    root = manifest.parent
    shown = json.loads(exited(run_cli(manifest, "certs", "--json")).stdout)
    data = shown["results"][0]["data"]
    cert = data["certificates"][0]
    assert cert["names"] == ["localhost", "127.0.0.1"]
    assert cert["issuer"] == f"SwiftDeploy local CA ({LOCAL})"
    assert 89 < cert["days_left"] <= 90 and cert["not_after"].endswith("Z")
    assert data["ca_file"] == str(root / ".swiftdeploy/ca/ca.pem")
    key_file = root / ".swiftdeploy/tls/privkey.pem"
    assert oct(key_file.stat().st_mode & 0o777) == "0o400"
    assert oct((root / ".swiftdeploy/ca/ca.key").stat().st_mode & 0o777) == "0o600"
    key_body = "".join(key_file.read_text().splitlines()[1:-1])
    audit = (root / "history.jsonl").read_text()
    assert '"event_type":"certificate"' in audit
    for text in (audit, printed, json.dumps(shown), (root / "docker-compose.yml").read_text(),
                 (root / "nginx.conf").read_text()):
        assert key_body[:40] not in text


def test_a_renewal_under_50_requests_a_second_drops_none(local_stack) -> None:
    manifest, _ = local_stack
    ca = str(manifest.parent / ".swiftdeploy/ca/ca.pem")
    before = served_sha256(LOCAL_TLS, ca)
    raw = yaml.safe_load(manifest.read_text())
    raw["tls"]["renew_days"] = 365  # longer than the leaf's 90 days: due now
    manifest.write_text(yaml.safe_dump(raw, sort_keys=False))
    try:
        with Load(f"https://localhost:{LOCAL_TLS}/", rate=50, verify=ca) as load:
            load.wait_for(40)
            renewed = exited(run_cli(manifest, "certs", "--renew"))
            answered = len(load.results)
            load.wait_for(answered + 40)
        assert "nginx reloaded" in renewed.stdout
        assert load.dropped == [], f"{len(load.dropped)} of {len(load.results)} requests failed"
        assert len(load.results) >= 80
        assert served_sha256(LOCAL_TLS, ca) != before  # new connections get the new certificate
    finally:
        raw["tls"].pop("renew_days")
        manifest.write_text(yaml.safe_dump(raw, sort_keys=False))
    # Not due any more: nothing renews, and the line says why.
    again = exited(run_cli(manifest, "certs", "--renew"))
    assert "not due" in again.stdout and "changed=0" in again.stdout


def renewal_interrupted(manifest: Path, stop) -> None:
    """A renewal made due (renew_days 365), cut by Ctrl-C where ``stop(target)`` makes it raise; then the
    manifest as before (not due), so only the unfinished placement can make the next run act."""
    from swiftlib.lifecycle import certificates
    from swiftlib.lifecycle.context import Options, Project, Target
    from swiftlib.results import Reporter

    raw = yaml.safe_load(manifest.read_text())
    raw["tls"]["renew_days"] = 365  # due now: prepare() renews
    manifest.write_text(yaml.safe_dump(raw, sort_keys=False))
    try:
        project = Project.load(manifest)
        target = Target.local(project)
        stop(target)
        with pytest.raises(KeyboardInterrupt):
            certificates.prepare(project, target, Reporter(lambda line: None), Options())
    finally:
        raw["tls"].pop("renew_days")
        manifest.write_text(yaml.safe_dump(raw, sort_keys=False))


def test_a_renewal_stopped_between_key_and_chain_is_placed_again_by_the_next_run(local_stack) -> None:
    """Ctrl-C (or a cut connection) after the new key is written but before its chain: the host holds a
    key that does not match the chain, and nginx would not start or reload on it. The next run must see
    that (the key is never read back) and place a matching pair."""
    from swiftlib.lifecycle import certificates

    manifest, _ = local_stack
    ca = str(manifest.parent / ".swiftdeploy/ca/ca.pem")

    def stop_at_the_chain(target) -> None:
        write = target.workspace.write

        def stopped_at_the_chain(name: str, text: str) -> None:
            if name == certificates.CHAIN:
                raise KeyboardInterrupt
            write(name, text)

        target.workspace.write = stopped_at_the_chain  # type: ignore[method-assign]

    renewal_interrupted(manifest, stop_at_the_chain)
    # Not due by the manifest any more: only the unfinished placement makes the next run act.
    repaired = exited(run_cli(manifest, "certs", "--renew")).stdout
    assert "certificate this project did not place" in repaired and "nginx reloaded" in repaired, repaired
    check = subprocess.run(["docker", "exec", f"{LOCAL}-nginx", "nginx", "-t", "-q"], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr  # key and chain match again
    status, _, _ = https_get(LOCAL_TLS, "/healthz", ca)
    assert status == 200


def test_a_renewal_stopped_before_nginx_reloaded_is_reloaded_by_the_next_run(local_stack) -> None:
    """Key and chain written, the reload never came: nginx still serves the old certificate. The state
    used to claim the new one already, so the next run found nothing to do and nginx kept the old one."""
    manifest, _ = local_stack
    ca = str(manifest.parent / ".swiftdeploy/ca/ca.pem")
    served_before = served_sha256(LOCAL_TLS, ca)

    def stop_at_the_reload(target) -> None:
        def stopped_at_the_reload(drain_wait) -> None:
            raise KeyboardInterrupt

        target.runtime.nginx_apply = stopped_at_the_reload  # type: ignore[method-assign]  (check, reload, drain)

    renewal_interrupted(manifest, stop_at_the_reload)
    assert served_sha256(LOCAL_TLS, ca) == served_before  # the new pair is on disk, nginx never loaded it
    repaired = exited(run_cli(manifest, "certs", "--renew")).stdout
    assert "nginx reloaded" in repaired, repaired
    state = json.loads((manifest.parent / ".swiftdeploy/state.json").read_text())
    assert served_sha256(LOCAL_TLS, ca) == state["tls"]["sha256"] != served_before


def test_teardown_keeps_the_certificate_and_clean_removes_it(tmp_path) -> None:
    manifest = with_tls(make_project(tmp_path, prefix=LOCAL + "td", base_port=LOCAL_PORT + 100),
                        source="local", hosts=["localhost"], port=LOCAL_TLS + 100)
    try:
        exited(run_cli(manifest, "deploy"))
        chain = (tmp_path / ".swiftdeploy/tls/fullchain.pem").read_text()
        exited(run_cli(manifest, "teardown"))
        assert (tmp_path / ".swiftdeploy/tls/fullchain.pem").read_text() == chain
        removed = exited(run_cli(manifest, "teardown", "--clean")).stdout
        assert not (tmp_path / ".swiftdeploy/tls/privkey.pem").exists()
        assert "file .swiftdeploy/tls/privkey.pem" in removed
        assert (tmp_path / ".swiftdeploy/ca/ca.pem").exists()  # the CA clients trust stays
    finally:
        remove_stack(LOCAL + "td")


# --- ACME: Debian's pebble as the CA ------------------------------------------------------

def test_an_acme_ca_issues_the_certificate_nginx_serves(tmp_path) -> None:
    with pebble(tmp_path / "pebble", http_port=ACME_PORT) as ca:
        manifest = with_tls(make_project(tmp_path / "project", prefix=ACME, base_port=ACME_PORT),
                            source="acme", hosts=["localhost"], port=ACME_TLS, ca_file=ca["root"],
                            acme={"directory": ca["directory"], "directory_ca_file": ca["directory_ca"],
                                  "email": "ops@example.com"})
        try:
            deployed = exited(run_cli(manifest, "deploy")).stdout
            # nginx started with a placeholder, then the CA validated the challenge nginx served.
            assert "placeholder certificate for localhost" in deployed
            assert "certificate from Pebble Intermediate CA" in deployed
            status, _, body = https_get(ACME_TLS, "/healthz", ca["root"])
            assert status == 200 and json.loads(body)["status"] == "ok"
            account = next((tmp_path / "project/.swiftdeploy/acme").glob("account-*.key"))
            assert oct(account.stat().st_mode & 0o777) == "0o600"
            first = served_sha256(ACME_TLS, ca["root"])
            # A redeploy keeps what the CA issued; --renew with renew_days past its validity orders a new one.
            assert "TASK [certificate]" not in exited(run_cli(manifest, "deploy")).stdout
            assert served_sha256(ACME_TLS, ca["root"]) == first
            raw = yaml.safe_load(manifest.read_text())
            raw["tls"]["renew_days"] = 365 * 10
            manifest.write_text(yaml.safe_dump(raw, sort_keys=False))
            with Load(f"https://localhost:{ACME_TLS}/", rate=50, verify=ca["root"]) as load:
                load.wait_for(30)
                renewed = exited(run_cli(manifest, "certs", "--renew")).stdout
                load.wait_for(len(load.results) + 30)
            assert "certificate from Pebble Intermediate CA" in renewed and "nginx reloaded" in renewed
            assert load.dropped == []
            assert served_sha256(ACME_TLS, ca["root"]) != first
            assert not any((tmp_path / "project/.swiftdeploy/acme-challenge").iterdir())  # answers removed
        finally:
            run_cli(manifest, "teardown", "--clean")
            remove_stack(ACME)


def test_the_acme_client_sends_again_through_a_run_of_bad_nonces(tmp_path) -> None:
    """A CA may answer badNonce to any signed request; each answer carries a fresh nonce to retry
    with. At a 30% rejection rate two in a row are common, which the library alone gives up on."""
    tokens: dict[str, str] = {}

    class Challenges(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            body = tokens.get(self.path.rsplit("/", 1)[-1], "").encode()
            self.send_response(200 if body else 404)
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", ACME_PORT + 7), Challenges)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with pebble(tmp_path / "pebble", http_port=ACME_PORT + 7, nonce_reject_percent=30) as ca:
            account = acme_issue.new_account_key()
            for _ in range(3):
                issued = acme_issue.issue(ca["directory"], ("localhost",), account, directory_trust=ca["directory_ca"],
                                          publish=tokens.__setitem__, unpublish=tokens.pop)
                assert certinfo.names_of(certinfo.load_chain(issued.chain_pem)[0]) == ("localhost",)
            assert tokens == {}  # every answer withdrawn
    finally:
        server.shutdown()


# --- files: checked at validate, and by the policy ---------------------------------------

def files_project(tmp_path: Path, chain: bytes, key: bytes, **extra) -> Path:
    manifest = make_project(tmp_path, prefix=FILES, base_port=FILES_PORT)
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs/fullchain.pem").write_bytes(chain)
    (tmp_path / "certs/key.pem").write_bytes(key)
    return with_tls(manifest, source="files", hosts=["shop.example.com"], port=FILES_TLS,
                    files={"certificate": "certs/fullchain.pem", "key": "certs/key.pem"}, **extra)


@pytest.fixture(scope="module")
def files_ca():
    return local_ca.new_ca("files", certinfo.now_utc())


@pytest.mark.parametrize("case, expected", [
    ("expired", "it expired on "),
    ("other key", "the key does not belong to the certificate"),
    ("wrong name", "it does not name shop.example.com (it names www.example.com)"),
])
def test_unusable_certificate_files_are_refused_at_validate_naming_the_file(tmp_path, files_ca, case, expected) -> None:
    now = certinfo.now_utc()
    name = ("www.example.com",) if case == "wrong name" else ("shop.example.com",)
    issued_at = now - timedelta(days=120) if case == "expired" else now
    chain, key = local_ca.issue_leaf(files_ca[0], files_ca[1], name, issued_at)
    if case == "other key":
        key = local_ca.issue_leaf(files_ca[0], files_ca[1], name, now)[1]
    manifest = files_project(tmp_path, chain, key)
    for task in ("validate", "deploy"):
        result = run_cli(manifest, task)
        assert result.returncode == 2, f"{task}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
        said = result.stdout + result.stderr
        assert "tls.files.certificate: certs/fullchain.pem: " in said and expected in said, said
    assert leftovers(FILES) == ""  # nothing started


def test_a_certificate_expiring_within_the_policy_minimum_is_denied_before_anything_starts(tmp_path, files_ca) -> None:
    now = certinfo.now_utc()
    chain, key = local_ca.issue_leaf(files_ca[0], files_ca[1], ("shop.example.com",), now - timedelta(days=87))
    manifest = files_project(tmp_path, chain, key)
    raw = yaml.safe_load(manifest.read_text())
    raw["policy_limits"]["infrastructure"]["min_certificate_days"] = 14
    manifest.write_text(yaml.safe_dump(raw, sort_keys=False))
    result = run_cli(manifest, "deploy")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "the certificate expires in 3.00 days" in result.stdout and "below the minimum of 14 days" in result.stdout
    assert leftovers(FILES) == "" and not (tmp_path / ".swiftdeploy/tls/privkey.pem").exists()
    # With a week's margin the same files deploy, and the chain verifies to the CA the manifest names.
    (tmp_path / "trusted.pem").write_bytes(files_ca[0])
    raw["policy_limits"]["infrastructure"]["min_certificate_days"] = 1
    raw["tls"]["ca_file"] = "trusted.pem"
    manifest.write_text(yaml.safe_dump(raw, sort_keys=False))
    try:
        exited(run_cli(manifest, "deploy"))
        assert served_sha256(FILES_TLS, str(tmp_path / "trusted.pem"), "shop.example.com") == \
            hashlib.sha256(ssl.PEM_cert_to_DER_cert(chain.decode().split("-----END CERTIFICATE-----")[0]
                                                     + "-----END CERTIFICATE-----\n")).hexdigest()
    finally:
        run_cli(manifest, "teardown", "--clean")
        remove_stack(FILES)


# --- Chromium: the public page trusted through the project CA, and the dashboard --------------

def chromium(profile: Path, trusted_ca: Path | None):
    """Headless Chromium whose NSS database (its trust store on Linux) trusts ``trusted_ca`` only."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    from tests.integration.test_dashboard import CHROME_FLAGS, CHROMEDRIVER, CHROMIUM

    nssdb = profile / "home/.pki/nssdb"
    nssdb.mkdir(parents=True)
    certutil = subprocess.run(["certutil", "-d", f"sql:{nssdb}", "-N", "--empty-password"], capture_output=True)
    assert certutil.returncode == 0, "certutil (libnss3-tools, installed by make test-deps) could not make a trust store"
    if trusted_ca is not None:
        subprocess.run(["certutil", "-d", f"sql:{nssdb}", "-A", "-t", "C,,", "-n", "swiftdeploy project CA",
                        "-i", str(trusted_ca)], check=True, capture_output=True)
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROME_FLAGS, f"--user-data-dir={profile / 'chromium'}"):
        options.add_argument(flag)
    service = Service(CHROMEDRIVER, env={**os.environ, "HOME": str(profile / "home")})
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(30)
    return driver


def test_chromium_trusts_the_public_page_through_the_project_ca_and_refuses_it_without(local_stack, tmp_path) -> None:
    manifest, _ = local_stack
    ca = manifest.parent / ".swiftdeploy/ca/ca.pem"
    trusting = chromium(tmp_path / "trusting", ca)
    try:
        trusting.get(f"https://localhost:{LOCAL_TLS}/healthz")
        assert json.loads(trusting.find_element("tag name", "body").text)["status"] == "ok"
    finally:
        trusting.quit()
    stranger = chromium(tmp_path / "stranger", None)
    try:
        stranger.get(f"https://localhost:{LOCAL_TLS}/healthz")
        assert "ERR_CERT_AUTHORITY_INVALID" in stranger.page_source  # Chromium's interstitial, no body
        assert '"status"' not in stranger.page_source
    finally:
        stranger.quit()


def test_the_dashboard_shows_the_served_certificate(local_stack, tmp_path) -> None:
    from tests.integration.test_dashboard import dashboard, wait_page

    manifest, _ = local_stack
    browser = chromium(tmp_path / "dashboard", None)
    try:
        with dashboard(manifest) as url:
            browser.get(url)
            shown = wait_page(browser, "return document.getElementById('certificate-card').hidden ? null : "
                                       "document.getElementById('certificate').textContent",
                              lambda text: bool(text) and "days left" in text, timeout=60, what="the certificate")
        assert shown.startswith("localhost, 127.0.0.1: ") and f"SwiftDeploy local CA ({LOCAL})" in shown, shown
    finally:
        browser.quit()

"""Certificates: what a chain says, why it cannot serve, what the project CA issues, when a
certificate is renewed, and the `tls` manifest section. Real certificates made with cryptography."""
from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from swiftlib.errors import ManifestError
from swiftlib.lifecycle.certificates import judge
from swiftlib.manifest.model import LETS_ENCRYPT, Tls, build_manifest
from swiftlib.render import render_all
from swiftlib.tls import certinfo, local_ca

REPO = Path(__file__).resolve().parents[2]
NOW = certinfo.now_utc()


@pytest.fixture(scope="module")
def ca() -> tuple[bytes, bytes]:
    return local_ca.new_ca("unit", NOW)


@pytest.fixture(scope="module")
def leaf(ca) -> tuple[bytes, bytes]:
    return local_ca.issue_leaf(ca[0], ca[1], ("app.example.com", "127.0.0.1"), NOW)


def info_of(chain: bytes) -> certinfo.CertInfo:
    return certinfo.describe(certinfo.load_chain(chain)[0])


# --- what a chain says -------------------------------------------------------------

def test_a_project_ca_leaf_names_its_hosts_and_issuer(leaf) -> None:
    info = info_of(leaf[0])
    assert info.names == ("app.example.com", "127.0.0.1")
    assert info.issuer == "SwiftDeploy local CA (unit)"
    assert 89.9 < info.days_left(NOW) <= 90.0
    shown = info.to_dict(NOW)
    assert set(shown) >= {"names", "issuer", "not_after", "days_left", "sha256"}
    assert shown["not_after"].endswith("Z")


def test_a_good_chain_has_no_problems_and_verifies_to_its_ca(ca, leaf) -> None:
    assert certinfo.problems(leaf[0], leaf[1], ("app.example.com", "127.0.0.1"), NOW,
                             certinfo.load_trust(ca[0])) == []


@pytest.mark.parametrize("host, covered", [
    ("app.example.com", True), ("APP.example.com.", True), ("other.example.com", False),
    ("127.0.0.1", True), ("127.0.0.2", False)])
def test_covers_exact_names_and_addresses(leaf, host: str, covered: bool) -> None:
    assert certinfo.covers(info_of(leaf[0]).names, host) is covered


@pytest.mark.parametrize("host, covered", [
    ("a.example.com", True), ("example.com", False), ("a.b.example.com", False)])
def test_a_wildcard_covers_exactly_one_label(host: str, covered: bool) -> None:
    assert certinfo.covers(("*.example.com",), host) is covered


# --- why a chain cannot serve (validate refuses these, naming the file) ------------------

def test_a_key_of_another_certificate_is_named(ca, leaf) -> None:
    _, other_key = local_ca.issue_leaf(ca[0], ca[1], ("app.example.com",), NOW)
    assert certinfo.problems(leaf[0], other_key, ("app.example.com",), NOW) == [
        "the key does not belong to the certificate (their public keys differ)"]


def test_a_name_it_does_not_carry_is_named(leaf) -> None:
    assert certinfo.problems(leaf[0], leaf[1], ("shop.example.com",), NOW) == [
        "it does not name shop.example.com (it names app.example.com, 127.0.0.1)"]


def test_an_expired_certificate_is_refused(ca) -> None:
    old_chain, old_key = local_ca.issue_leaf(ca[0], ca[1], ("app.example.com",), NOW - timedelta(days=100), days=90)
    problems = certinfo.problems(old_chain, old_key, ("app.example.com",), NOW)
    assert len(problems) == 1 and problems[0].startswith("it expired on ")


def test_a_chain_in_the_wrong_order_is_refused(ca, leaf) -> None:
    leaf_only = leaf[0][: leaf[0].index(b"-----END CERTIFICATE-----") + 26]
    reversed_chain = ca[0] + leaf_only
    problems = certinfo.problems(reversed_chain, None, ("app.example.com",), NOW)
    assert any("certificate 1 is not signed by certificate 2" in p for p in problems)


def test_a_chain_from_another_ca_does_not_verify(leaf) -> None:
    stranger, _ = local_ca.new_ca("stranger", NOW)
    problems = certinfo.problems(leaf[0], leaf[1], ("app.example.com",), NOW, certinfo.load_trust(stranger))
    assert len(problems) == 1 and problems[0].startswith("it does not verify against the trusted CA for app.example.com")


def test_a_file_without_a_certificate_is_refused() -> None:
    assert certinfo.problems(b"hello", None, ("a",), NOW)[0].startswith("not a PEM certificate chain")


def test_an_encrypted_or_broken_key_is_named(leaf) -> None:
    problems = certinfo.problems(leaf[0], b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
                                 ("app.example.com",), NOW)
    assert len(problems) == 1 and problems[0].startswith("the key is not an unencrypted PEM private key")


# --- when a certificate is renewed (pure decisions) -----------------------------------

def tls(source: str = "local", hosts: tuple[str, ...] = ("app.example.com",), renew_days: int = 30) -> Tls:
    return Tls(source=source, hosts=hosts, port=8443, hsts_seconds=0, renew_days=renew_days, ca_file="")


def placed(info: certinfo.CertInfo, source: str = "local", placeholder: bool = False) -> dict:
    return {"source": source, "sha256": info.fingerprint, "placeholder": placeholder}


def test_a_fresh_certificate_this_project_placed_is_kept(leaf) -> None:
    info = info_of(leaf[0])
    assert judge(tls(), info, placed(info), NOW).action == "keep"


@pytest.mark.parametrize("source, first", [("local", "place"), ("acme", "placeholder")])
def test_no_certificate_yet_is_placed_or_stood_in_for(source: str, first: str) -> None:
    assert judge(tls(source), None, {}, NOW).action == first


def test_a_certificate_due_for_renewal_is_renewed(leaf) -> None:
    info = info_of(leaf[0])
    verdict = judge(tls(renew_days=30), info, placed(info), NOW + timedelta(days=61))
    assert verdict.action == "place" and verdict.why.startswith("due: ")
    acme = judge(tls("acme", renew_days=30), info, placed(info, "acme"), NOW + timedelta(days=61))
    assert acme.action == "acme"


def test_new_names_renew_at_once(leaf) -> None:
    info = info_of(leaf[0])
    verdict = judge(tls(hosts=("app.example.com", "www.example.com")), info, placed(info), NOW)
    assert (verdict.action, verdict.why) == ("place", "it does not name www.example.com")


def test_a_placeholder_is_replaced_by_the_acme_ca(leaf) -> None:
    info = info_of(leaf[0])
    assert judge(tls("acme"), info, placed(info, "acme", placeholder=True), NOW).action == "acme"


def test_a_certificate_from_another_source_is_replaced(leaf) -> None:
    info = info_of(leaf[0])
    verdict = judge(tls("acme"), info, placed(info, "local"), NOW)
    assert verdict.action == "acme" and "tls.source is acme" in verdict.why


def test_a_certificate_someone_else_put_there_is_replaced(leaf) -> None:
    info = info_of(leaf[0])
    assert judge(tls(), info, {"source": "local", "sha256": "0" * 64}, NOW).action == "place"


def test_files_are_placed_until_the_host_serves_exactly_them(leaf) -> None:
    info = info_of(leaf[0])
    assert judge(tls("files"), info, placed(info, "files"), NOW, wanted_sha256=info.fingerprint).action == "keep"
    assert judge(tls("files"), info, placed(info, "files"), NOW, wanted_sha256="f" * 64).action == "place"
    assert judge(tls("files"), None, {}, NOW, wanted_sha256=info.fingerprint).action == "place"


# --- the manifest section ---------------------------------------------------------------

def manifest_with(section) -> dict:
    raw = yaml.safe_load((REPO / "manifest.yaml").read_text())
    raw["tls"] = section
    return raw


def test_tls_is_absent_by_default() -> None:
    assert build_manifest(yaml.safe_load((REPO / "manifest.yaml").read_text())).tls is None


def test_tls_takes_documented_defaults() -> None:
    got = build_manifest(manifest_with({"source": "acme", "hosts": ["shop.example.com"]})).tls
    assert (got.port, got.hsts_seconds, got.renew_days, got.ca_file) == (443, 0, 30, "")
    assert got.acme.directory == LETS_ENCRYPT and got.files is None


def test_every_tls_problem_is_reported_at_once() -> None:
    with pytest.raises(ManifestError) as caught:
        build_manifest(manifest_with({"source": "files", "hosts": ["ok.example.com", "bad_name!", "ok.example.com"],
                                      "port": 8080, "hsts": 1, "acme": {"directory": "http://insecure"}}))
    problems = caught.value.problems
    assert "tls.hsts: unknown field (known here: acme, ca_file, files, hosts, hsts_seconds, port, renew_days, " \
           "source)" in problems
    assert 'tls.hosts: not a DNS name or IP address: "bad_name!"' in problems
    assert "tls.hosts: named more than once: ok.example.com" in problems
    assert "tls.port: must differ from nginx.port (8080)" in problems
    assert any(p.startswith("tls.files.certificate: ") for p in problems)
    assert any(p.startswith("tls.files.key: ") for p in problems)


def test_an_acme_directory_must_be_https() -> None:
    with pytest.raises(ManifestError) as caught:
        build_manifest(manifest_with({"source": "acme", "hosts": ["a.example.com"],
                                      "acme": {"directory": "http://ca.internal/dir"}}))
    assert caught.value.problems == ['tls.acme.directory: expected an https:// URL, got "http://ca.internal/dir"']


def test_a_tls_section_that_is_not_a_mapping_is_named() -> None:
    with pytest.raises(ManifestError) as caught:
        build_manifest(manifest_with("on"))
    assert 'tls: expected a mapping of fields, got "on"' in caught.value.problems[0]


# --- what nginx and compose get -----------------------------------------------------------

def rendered(section) -> dict[str, str]:
    return render_all(build_manifest(manifest_with(section)), REPO / "templates", include_opa=False)


def test_https_renders_the_intermediate_profile_and_a_redirect() -> None:
    files = rendered({"source": "local", "hosts": ["localhost"], "port": 8443, "hsts_seconds": 31536000})
    conf = files["nginx.conf"]
    assert "listen 8443 ssl;" in conf and "ssl_protocols TLSv1.2 TLSv1.3;" in conf
    assert "ssl_prefer_server_ciphers off;" in conf and "ssl_session_tickets off;" in conf
    assert "return 308 https://$host:8443$request_uri;" in conf
    assert "location ^~ /.well-known/acme-challenge/ {" in conf
    assert 'add_header Strict-Transport-Security "max-age=31536000" always;' in conf
    compose = yaml.safe_load(files["docker-compose.yml"])
    nginx = compose["services"]["nginx"]
    assert "8443:8443" in nginx["ports"] and "8080:8080" in nginx["ports"]
    assert "./.swiftdeploy/tls:/etc/nginx/tls:ro" in nginx["volumes"]


def test_the_default_https_port_is_left_out_of_the_redirect_and_hsts_is_off_by_default() -> None:
    conf = rendered({"source": "local", "hosts": ["localhost"]})["nginx.conf"]
    assert "return 308 https://$host$request_uri;" in conf
    assert "Strict-Transport-Security" not in conf
    # Port 443 is below 1024: nginx keeps NET_BIND_SERVICE for it.
    compose = yaml.safe_load(rendered({"source": "local", "hosts": ["localhost"]})["docker-compose.yml"])
    assert "NET_BIND_SERVICE" in compose["services"]["nginx"]["cap_add"]


def test_plain_http_renders_no_tls() -> None:
    files = render_all(build_manifest(yaml.safe_load((REPO / "manifest.yaml").read_text())), REPO / "templates",
                       include_opa=False)
    assert "ssl" not in files["nginx.conf"] and "/etc/nginx/tls" not in files["docker-compose.yml"]


def test_an_acme_wildcard_is_refused_since_http_01_cannot_prove_it() -> None:
    with pytest.raises(ManifestError) as caught:
        build_manifest(manifest_with({"source": "acme", "hosts": ["*.example.com"]}))
    assert caught.value.problems[0].startswith("tls.hosts: an ACME CA validates names over HTTP-01")

"""Peers over TLS with a private CA: a node served by ``serve(tls_cert=, tls_key=)`` and another
node that trusts that CA through ``peer_ca_file`` run a secure count; without the CA it cannot."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from tests.collab.collab_setup import wait_for
from tests.collab.served_nodes import Served
from tests.livenode import free_port
from tests.node_api.conftest import CARD, CSV

from insitu.crypto.signing import SigningKey
from insitu.node.federation.notices import PROPOSE_PATH
from insitu.node.federation.peer_client import PeerClient
from insitu.node.init import init_node
from insitu.node.settings import NodeSettings


def trust(ca: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca))


def _name(text: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, text)])


def make_pki(d: Path) -> tuple[Path, Path, Path]:
    """A CA certificate, and a server certificate for localhost/127.0.0.1 signed by it."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("insitu test CA"))
        .issuer_name(_name("insitu test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    san = x509.SubjectAlternativeName(
        [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(san, critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path, cert_path, key_path = d / "ca.pem", d / "server.pem", d / "server.key"
    ca_path.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return ca_path, cert_path, key_path


@pytest.fixture
def tls_node(tmp_path: Path) -> Iterator[tuple[str, str, Path, Path]]:
    """office-b served over TLS by ``insitu.node.serve.serve`` in its own process."""
    ca, cert, key = make_pki(tmp_path)
    init = init_node(tmp_path / "office-b", name="office-b")
    settings = NodeSettings.load(init.data_dir)
    settings.peer_ca_file = ca
    settings.save()
    port = free_port()
    code = (
        "from insitu.node.serve import serve; "
        f"serve({str(init.data_dir)!r}, port={port}, tls_cert={str(cert)!r}, tls_key={str(key)!r})"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], env={**os.environ})
    url = f"https://localhost:{port}"
    try:
        end = time.monotonic() + 60
        while True:
            try:
                if httpx.get(url + "/v1/node", verify=trust(ca), timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                if time.monotonic() > end or proc.poll() is not None:
                    raise
            time.sleep(0.1)
        yield url, init.owner_token, ca, init.data_dir
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@pytest.mark.slow
def test_secure_count_between_tls_peers(
    tls_node: tuple[str, str, Path, Path], serve: Callable[..., Served], tmp_path: Path
) -> None:
    b_url, b_token, ca, b_dir = tls_node
    a = serve(
        "office-a",
        insecure_peers=False,
        peer_ca_file=ca,
        tls=(tmp_path / "server.pem", tmp_path / "server.key"),
    )
    assert a.url.startswith("https://")
    a_key = a.node.key.public_key.to_text()
    b_key = SigningKey.from_pem(NodeSettings.load(b_dir).key_path.read_bytes())
    parties = {"office-a": (a.url, a_key), "office-b": (b_url, b_key.public_key.to_text())}
    owners = {
        "office-a": a.http(verify=trust(ca)),
        "office-b": httpx.Client(
            base_url=b_url, verify=trust(ca), headers={"Authorization": f"Bearer {b_token}"}
        ),
    }
    spec = {
        "collab_id": "over-tls",
        "computation": "secure_count",
        "parties": [
            {
                "name": name,
                "url": url,
                "public_key": key,
                "roles": ["input", "result"] if name == "office-a" else ["input"],
                "datasets": ["persons"],
            }
            for name, (url, key) in parties.items()
        ],
        "privacy_costs": [{"party": n, "dataset": "persons", "exact": True} for n in parties],
        "result_parties": ["office-a"],
        "timeout_seconds": 60,
    }
    try:
        for name, c in owners.items():
            (other,) = (n for n in parties if n != name)
            url, key = parties[other]
            body = {"name": other, "url": url, "public_key": key}
            assert c.post("/v1/peers", json=body).status_code == 201
            up = c.put("/v1/uploads", content=CSV.encode()).json()
            ds = {"name": "persons", "card": CARD, "upload_id": up["upload_id"]}
            assert c.post("/v1/datasets", json=ds).status_code == 201
        a_owner, b_owner = owners["office-a"], owners["office-b"]
        assert a_owner.post("/v1/collaborations", json=spec).status_code == 201
        wait_for(lambda: b_owner.get("/v1/collaborations/over-tls").status_code == 200)
        assert b_owner.post("/v1/collaborations/over-tls/approve").status_code == 200
        assert a_owner.post("/v1/collaborations/over-tls/approve").status_code == 200
        done = wait_for(
            lambda: a_owner.get("/v1/collaborations/over-tls").json()["state"] == "done"
        )
        assert done
        result = a_owner.get("/v1/collaborations/over-tls/result").json()["result"]
        assert result == {"total": 6}
    finally:
        for c in owners.values():
            c.close()
    # a node that does not trust the private CA cannot reach office-b at all
    stranger = PeerClient(SigningKey.generate())
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        stranger.post_json(b_url, PROPOSE_PATH, {})
    stranger.close()

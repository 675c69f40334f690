"""``minibase serve --tls-cert --tls-key``: HTTPS and WSS with HSTS, one-line errors."""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pycrdt import Doc, Map

from minibase.collab import protocol
from tests.helpers import PASSWORD
from tests.process import ServerProcess, free_port

pytestmark = pytest.mark.slow


def make_certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (also its own CA) and its key."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "minibase test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def test_https_and_wss_with_hsts(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    server = ServerProcess(
        tmp_path / "data", args=["--tls-cert", str(cert), "--tls-key", str(key)], ca_file=cert
    )
    try:
        server.wait_ready()
        assert server.base_url.startswith("https://")
        response = httpx.get(f"{server.base_url}/healthz", verify=server.verify)
        assert response.json() == {"status": "ok"}
        assert response.headers["strict-transport-security"].startswith("max-age=31536000")
        assert response.headers["x-content-type-options"] == "nosniff"
        with pytest.raises(httpx.TransportError):  # plain HTTP is not spoken on that port
            httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=5)

        async def wss_round_trip() -> int | None:
            url = f"wss://127.0.0.1:{server.port}/v1/sync?token=not-a-token"
            async with websockets.connect(url, ssl=server.verify) as ws:
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await asyncio.wait_for(ws.recv(), 10)
            return closed.value.rcvd.code if closed.value.rcvd else None

        assert asyncio.run(wss_round_trip()) == 4401

        # A live query's frames over TLS: written straight to the TLS transport (the
        # direct path of minibase.sockets.direct_frames), read back intact.
        signed_up = httpx.post(
            f"{server.base_url}/v1/auth/signup",
            json={"email": "tls@example.com", "password": PASSWORD, "name": "T"},
            verify=server.verify,
        )
        assert signed_up.status_code == 201, signed_up.text
        token = signed_up.json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        org = httpx.post(
            f"{server.base_url}/v1/orgs", json={"name": "Acme"}, headers=auth, verify=server.verify
        ).json()
        big = {"id": "a", "type": "t", "position": {"x": 0, "y": 0}, "data": {"t": "é" * 40_000}}
        flow = httpx.post(
            f"{server.base_url}/v1/orgs/{org['id']}/flows",
            json={"name": "Ünïcode", "nodes": [big], "edges": []},
            headers=auth,
            verify=server.verify,
        )
        assert flow.status_code == 201, flow.text

        async def wss_live_query() -> list[dict[str, Any]]:
            url = f"wss://127.0.0.1:{server.port}/v1/sync?token={token}"
            frames = []
            async with websockets.connect(url, ssl=server.verify) as ws:
                await ws.send(json.dumps({"type": "ping"}))
                frames.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
                args = {"orgId": org["id"], "flowId": flow.json()["id"]}
                subscribe = {"type": "subscribe", "id": "f", "query": "flows.get", "args": args}
                await ws.send(json.dumps(subscribe))
                frames.append(json.loads(await asyncio.wait_for(ws.recv(), 10)))
            return frames

        # A short frame and one over 64 KiB (80 KB of UTF-8: the 8-byte length).
        pong, result = asyncio.run(wss_live_query())
        assert pong == {"type": "pong"}
        assert result["type"] == "result" and result["id"] == "f"
        assert result["value"]["name"] == "Ünïcode"
        assert result["value"]["nodes"] == [big]

        async def wss_collab_edit() -> protocol.Message:
            # A collab socket over TLS: past its first message the server reads its
            # frames itself (minibase.sockets.direct_reads), here from the TLS transport.
            url = f"wss://127.0.0.1:{server.port}/v1/collab/{org['id']}/{flow.json()['id']}"
            async with websockets.connect(
                f"{url}?token={token}", ssl=server.verify, compression=None, max_size=None
            ) as ws:
                await ws.send(protocol.sync_step1(b"\x00"))
                doc: Doc[Any] = Doc()
                while not isinstance(message := await _collab_message(ws), protocol.SyncStep2):
                    pass
                doc.apply_update(message.update)
                for x in (5, 6):  # two edits: the second surely past the first message
                    before = doc.get_state()
                    doc.get("nodes", type=Map)["a"]["position"] = {"x": x, "y": 1}
                    await ws.send(protocol.sync_update(doc.get_update(before)))
                while True:
                    message = await _collab_message(ws)
                    if isinstance(message, protocol.SyncUpdate):
                        echo: Doc[Any] = Doc()
                        echo.apply_update(doc.get_update())
                        echo.apply_update(message.update)
                        if echo.get("nodes", type=Map)["a"]["position"]["x"] == 6:
                            return message

        assert isinstance(asyncio.run(wss_collab_edit()), protocol.SyncUpdate)
    finally:
        assert server.stop() == 0
    assert "Traceback" not in server.log_path.read_text()


async def _collab_message(ws: Any) -> protocol.Message:
    frame = await asyncio.wait_for(ws.recv(), 10)
    assert isinstance(frame, bytes)
    return protocol.decode_message(frame)


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "minibase", "serve", "--port", str(free_port()), *args],
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_missing_or_mismatched_tls_files_are_one_line_errors(tmp_path: Path) -> None:
    cert, key = make_certificate(tmp_path)
    other = tmp_path / "other"
    other.mkdir()
    _, other_key = make_certificate(other)
    data = ["--data-dir", str(tmp_path / "data")]
    cases = {
        "does not exist": ["--tls-cert", str(tmp_path / "nope.pem"), "--tls-key", str(key)],
        "cannot use TLS certificate": ["--tls-cert", str(cert), "--tls-key", str(other_key)],
        "go together": ["--tls-cert", str(cert)],
    }
    for expected, args in cases.items():
        result = _serve(*data, *args)
        assert result.returncode in (1, 2), result.stderr
        assert "Traceback" not in result.stderr
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and expected in lines[0], result.stderr

"""Issue 12, items 4 and 5 at the one door a JSON body does not pass: organization import
(``POST /v1/orgs/import``, a zip of JSON lines). A consistent archive (its manifest's
checksums recomputed) holding a NUL character or a number its column cannot hold used to
import on SQLite and fail with 500 on PostgreSQL; now both answer 422 ``invalid_archive``
and write nothing."""

from __future__ import annotations

import hashlib
import io
import zipfile

import httpx
import orjson

from tests.care.data_helpers import fill
from tests.care.test_org_archives import _rewrite, export, import_


def altered(archive: bytes, name: str, old: bytes, new: bytes) -> bytes:
    """``archive`` with ``old`` replaced by ``new`` in file ``name``, its manifest agreeing."""
    content = zipfile.ZipFile(io.BytesIO(archive)).read(name)
    assert old in content, (name, content[:200])
    changed = content.replace(old, new, 1)

    def manifest(text: bytes) -> bytes:
        value = orjson.loads(text)
        value["files"][name].update(sha256=hashlib.sha256(changed).hexdigest(), bytes=len(changed))
        return orjson.dumps(value)

    return _rewrite(archive, {name: lambda _: changed, "manifest.json": manifest})


async def test_archives_with_values_no_database_holds_are_refused(
    client: httpx.AsyncClient,
) -> None:
    org = await fill(client, flows=1)
    archive = await export(client, org.admin, org.id)
    flows = b'"name":"Flow 0 v2"'
    cases = {
        "NUL in a flow name": ("flows.jsonl", flows, b'"name":"Flow\\u0000"'),
        "NUL in the org name": ("organization.json", b'"name":"Acme"', b'"name":"A\\u0000"'),
        "NUL in a member name": ("members.jsonl", b'"name":"Test"', b'"name":"T\\u0000"'),
        "NUL in an audit action": (
            "audit.jsonl",
            b'"action":"org.create"',
            b'"action":"org\\u0000"',
        ),
        "lone surrogate": ("flows.jsonl", flows, b'"name":"\\ud800"'),
        "version beyond 32 bits": ("versions.jsonl", b'"version":1', b'"version":2147483648'),
        "version beyond 64 bits": ("versions.jsonl", b'"version":1', b'"version":1' + b"0" * 25),
        "a counter beyond 63 bits": (
            "organization.json",
            b'"nodes_used":3',
            b'"nodes_used":9223372036854775808',
        ),
        "a string for a number": ("versions.jsonl", b'"version":1', b'"version":"1"'),
        "a number for a string": ("flows.jsonl", flows, b'"name":7'),
    }
    before = (await client.get("/v1/orgs", headers=org.admin.headers)).json()["items"]
    for label, (name, old, new) in cases.items():
        response = await import_(client, org.admin, altered(archive, name, old, new), ids="new")
        assert response.status_code == 422, (label, response.text)
        assert response.json()["error"]["code"] == "invalid_archive", label
    after = (await client.get("/v1/orgs", headers=org.admin.headers)).json()["items"]
    assert after == before
    # The archive as exported imports: the refusals above are the values alone.
    assert (await import_(client, org.admin, archive, ids="new")).status_code == 201
    assert (await client.get("/healthz")).status_code == 200

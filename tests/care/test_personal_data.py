"""``GET /v1/me/export`` and ``DELETE /v1/me`` (erasure, pseudonymous audit rows)."""

from __future__ import annotations

import httpx

from tests.flows_helpers import new_org, node
from tests.helpers import PASSWORD
from tests.test_access_matrix import invite_as


async def test_export_then_erase(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    editor = await invite_as(client, org.admin, org.id, "editor")
    flow = await org.create_flow("Mine", [node("a")], user=editor)

    exported = await client.get("/v1/me/export", headers=editor.headers)
    assert exported.status_code == 200
    assert "attachment" in exported.headers["content-disposition"]
    data = exported.json()
    assert data["user"]["email"] == editor.email and data["user"]["id"] == editor.id
    assert data["sessions"] and all("tokenHash" not in s for s in data["sessions"])
    assert "passwordHash" not in exported.text and "password_hash" not in exported.text
    (membership,) = data["organizations"]
    assert membership["organization"]["id"] == org.id and membership["role"] == "editor"
    assert [f["id"] for f in membership["flows"]] == [flow["id"]]
    assert membership["flows"][0]["document"]["nodes"][0]["id"] == "a"
    assert any(e["action"] == "flow.create" for e in membership["auditEvents"])

    last_admin = await client.delete("/v1/me", headers=org.admin.headers)
    assert last_admin.status_code == 409
    assert last_admin.json()["error"]["details"]["organizationIds"] == [org.id]

    erased = await client.delete("/v1/me", headers=editor.headers)
    assert erased.status_code == 204
    assert (await client.get("/v1/me", headers=editor.headers)).status_code == 401
    login = await client.post("/v1/auth/login", json={"email": editor.email, "password": PASSWORD})
    assert login.status_code == 401
    listed = await client.get(f"/v1/orgs/{org.id}/members", headers=org.admin.headers)
    assert editor.id not in {m["user"]["id"] for m in listed.json()["items"]}
    kept = await client.get(f"{org.flows_url}/{flow['id']}", headers=org.admin.headers)
    assert kept.json()["createdBy"] == editor.id  # a pseudonym now: no account has it
    audit = await client.get(f"/v1/orgs/{org.id}/audit", headers=org.admin.headers)
    left = [e for e in audit.json()["items"] if e["action"] == "member.leave"]
    assert [e["actor"]["id"] for e in left] == [editor.id]
    verify = await client.get(f"/v1/orgs/{org.id}/audit/verify", headers=org.admin.headers)
    assert verify.json()["ok"] is True
    # the email is free again
    again = await client.post("/v1/auth/signup", json={"email": editor.email, "password": PASSWORD})
    assert again.status_code == 201


async def test_api_keys_cannot_use_them(client: httpx.AsyncClient) -> None:
    org = await new_org(client)
    key = await client.post(
        f"/v1/orgs/{org.id}/api-keys", json={"name": "k", "role": "admin"},
        headers=org.admin.headers,
    )  # fmt: skip
    headers = {"Authorization": f"Bearer {key.json()['key']}"}
    assert (await client.get("/v1/me/export", headers=headers)).status_code == 401
    assert (await client.delete("/v1/me", headers=headers)).status_code == 401

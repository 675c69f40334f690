"""Flows and outputs as JSON, CSV and XML; the XML validates against docs/flows-export.xsd."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import httpx
import orjson
import xmlschema

from tests.flows_helpers import Org, edge, new_org, node

XSD = Path(__file__).resolve().parents[2] / "docs" / "flows-export.xsd"
NS = {"m": "urn:minibase:flows-export:1"}

TRICKY = {"label": 'a <b> & "c"', "nested": {"list": [1, 2.5, None, True]}, "ünï": "✓"}


async def _org_with_flows(client: httpx.AsyncClient) -> tuple[Org, list[dict[str, Any]]]:
    org = await new_org(client)
    first = await org.create_flow(
        "First & <best>",
        [
            node("a", 1.5, -2, data=TRICKY),
            {**node("b", 10, 20, type_="custom"), "width": 150},
        ],
        [{**edge("a", "b"), "sourceHandle": "out", "targetHandle": "in", "animated": True}],
    )
    second = await org.create_flow("Second", [node("x")], [])
    gone = await org.create_flow("Trashed", [node("t")], [])
    for flow, node_id in ((first, "a"), (first, "b"), (second, "x"), (gone, "t")):
        response = await client.post(
            f"{org.flows_url}/{flow['id']}/outputs",
            json={"nodeId": node_id, "output": {"v": node_id, "t": TRICKY}, "computeTime": 2.25},
            headers=org.admin.headers,
        )
        assert response.status_code == 201
    deleted = await client.delete(f"{org.flows_url}/{gone['id']}", headers=org.admin.headers)
    assert deleted.status_code in (200, 204)
    return org, [first, second]


async def _get(client: httpx.AsyncClient, org: Org, path: str, fmt: str) -> httpx.Response:
    response = await client.get(f"{path}?format={fmt}", headers=org.admin.headers)
    assert response.status_code == 200, response.text
    return response


async def test_json_holds_every_flow_and_output(client: httpx.AsyncClient) -> None:
    org, made = await _org_with_flows(client)
    response = await _get(client, org, f"/v1/orgs/{org.id}/export", "json")
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["format"] == "minibase-flows" and body["formatVersion"] == 1
    assert sorted(f["id"] for f in body["flows"]) == sorted(f["id"] for f in made)
    for flow in body["flows"]:
        served = await client.get(f"{org.flows_url}/{flow['id']}", headers=org.admin.headers)
        assert flow["nodes"] == served.json()["nodes"] and flow["edges"] == served.json()["edges"]
    assert len(body["outputs"]) == 3  # the trashed flow's output is left out
    assert all(o["output"]["t"] == TRICKY for o in body["outputs"])

    one = await _get(client, org, f"{org.flows_url}/{made[1]['id']}/export", "json")
    assert [f["id"] for f in one.json()["flows"]] == [made[1]["id"]]
    assert [o["nodeId"] for o in one.json()["outputs"]] == ["x"]


async def test_csv_is_a_zip_of_four_tables(client: httpx.AsyncClient) -> None:
    org, _ = await _org_with_flows(client)
    response = await _get(client, org, f"/v1/orgs/{org.id}/export", "csv")
    assert response.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(response.content))
    assert archive.namelist() == ["flows.csv", "nodes.csv", "edges.csv", "outputs.csv"]

    def table(name: str) -> list[dict[str, str]]:
        return list(csv.DictReader(io.StringIO(archive.read(name).decode("utf-8"))))

    flows_rows = table("flows.csv")
    assert {r["name"] for r in flows_rows} == {"First & <best>", "Second"}
    nodes_rows = {r["id"]: r for r in table("nodes.csv")}
    assert set(nodes_rows) == {"a", "b", "x"}
    assert orjson.loads(nodes_rows["a"]["data"]) == TRICKY
    assert (nodes_rows["a"]["positionX"], nodes_rows["a"]["positionY"]) == ("1.5", "-2")
    assert orjson.loads(nodes_rows["b"]["extra"]) == {"width": 150}
    (edge_row,) = table("edges.csv")
    assert (edge_row["source"], edge_row["sourceHandle"], edge_row["targetHandle"]) == (
        "a",
        "out",
        "in",
    )
    assert orjson.loads(edge_row["extra"]) == {"animated": True}
    outputs_rows = table("outputs.csv")
    assert len(outputs_rows) == 3 and outputs_rows[0]["computeTime"] == "2.25"
    assert orjson.loads(outputs_rows[0]["output"])["t"] == TRICKY


async def test_xml_validates_against_the_schema(client: httpx.AsyncClient) -> None:
    org, made = await _org_with_flows(client)
    schema = xmlschema.XMLSchema(str(XSD))
    for path in (f"/v1/orgs/{org.id}/export", f"{org.flows_url}/{made[0]['id']}/export"):
        response = await _get(client, org, path, "xml")
        assert response.headers["content-type"].startswith("application/xml")
        schema.validate(response.text)
    root = ElementTree.fromstring(response.content)
    (flow,) = root.findall("m:flows/m:flow", NS)
    assert flow.get("name") == "First & <best>"
    nodes = flow.findall("m:nodes/m:node", NS)
    assert [n.get("id") for n in nodes] == ["a", "b"]
    assert orjson.loads(nodes[0].findtext("m:data", namespaces=NS) or "") == TRICKY
    outputs = root.findall("m:outputs/m:output", NS)
    assert len(outputs) == 2 and orjson.loads(outputs[0].text or "")["t"] == TRICKY


async def test_bad_format_and_missing_flow(client: httpx.AsyncClient) -> None:
    org, _ = await _org_with_flows(client)
    response = await client.get(f"/v1/orgs/{org.id}/export?format=yaml", headers=org.admin.headers)
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "unsupported_format"
    assert response.json()["error"]["details"]["supported"] == ["json", "csv", "xml"]
    missing = await client.get(
        f"{org.flows_url}/flow_nope/export?format=xml", headers=org.admin.headers
    )
    assert missing.status_code == 404

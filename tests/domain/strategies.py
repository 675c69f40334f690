"""Hypothesis strategies for flow documents and for edits of them."""

from __future__ import annotations

import copy
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st


def properties(max_examples: int = 100) -> settings:
    """Settings for the property tests: no per-example deadline (CI machines stall), and
    no health-check failure for the deliberately rich, slow-to-draw edit scenarios."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


NODE_IDS = [f"n{i}" for i in range(8)]
EDGE_IDS = [f"e{i}" for i in range(8)]
DATA_KEYS = ["label", "prompt", "k2", "k3"]

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-5, 5)
    | st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False)
    | st.text(max_size=4)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3)
    ),
    max_leaves=6,
)
coordinates = st.integers(-1000, 1000) | st.floats(-1e4, 1e4, allow_nan=False)
positions = st.fixed_dictionaries({"x": coordinates, "y": coordinates})
datas = st.dictionaries(st.sampled_from(DATA_KEYS), json_values, max_size=4)


@st.composite
def nodes(draw: st.DrawFn, ident: str) -> dict[str, Any]:
    node: dict[str, Any] = {
        "id": ident,
        "type": draw(st.sampled_from(["llm", "http", "shell"])),
        "position": draw(positions),
    }
    if draw(st.booleans()):
        node["data"] = draw(datas)
    if draw(st.booleans()):
        node["width"] = draw(st.integers(1, 400))
    return node


@st.composite
def edges(draw: st.DrawFn, ident: str, node_ids: list[str]) -> dict[str, Any]:
    edge: dict[str, Any] = {
        "id": ident,
        "source": draw(st.sampled_from(node_ids)),
        "target": draw(st.sampled_from(node_ids)),
    }
    if draw(st.booleans()):
        edge["data"] = draw(datas)
    if draw(st.booleans()):
        edge["animated"] = draw(st.booleans())
    return edge


@st.composite
def flows(
    draw: st.DrawFn, node_pool: list[str] = NODE_IDS, edge_pool: list[str] = EDGE_IDS
) -> dict[str, Any]:
    """A valid flow whose ids come from small pools, so independent flows overlap."""
    node_ids = draw(st.lists(st.sampled_from(node_pool), unique=True, max_size=len(node_pool)))
    flow_nodes = [draw(nodes(i)) for i in node_ids]
    flow_edges: list[dict[str, Any]] = []
    if node_ids:
        edge_ids = draw(st.lists(st.sampled_from(edge_pool), unique=True, max_size=6))
        flow_edges = [draw(edges(i, node_ids)) for i in edge_ids]
    return {
        "name": draw(st.sampled_from(["A", "B", "C"])),
        "nodes": flow_nodes,
        "edges": flow_edges,
    }


def _change_field(draw: st.DrawFn, entity: dict[str, Any], field: str) -> None:
    """Change or delete one field (``data.<key>`` for a data key) of ``entity`` in place."""
    if field.startswith("data."):
        data = entity.setdefault("data", {})
        key = field[len("data.") :]
        if key in data and draw(st.booleans()):
            del data[key]
        else:
            data[key] = draw(json_values)
    elif field == "position":
        entity["position"] = draw(positions)
    elif field in entity and field not in ("type", "source", "target") and draw(st.booleans()):
        del entity[field]
    else:
        entity[field] = (
            draw(json_values)
            if field not in ("type", "source", "target")
            else (entity.get(field, "") + "_")
        )


@st.composite
def disjoint_edits(draw: st.DrawFn) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """(base, x, y) where x and y change disjoint entities, fields and data keys."""
    base = draw(flows())
    sides = {"x": copy.deepcopy(base), "y": copy.deepcopy(base)}
    for key in ("nodes", "edges"):
        for index in range(len(base[key])):
            mode = draw(st.sampled_from(["none", "x", "y", "split"]))
            if mode in ("x", "y"):
                mine = sides[mode][key][index]
                if draw(st.booleans()):
                    mine["deleted"] = True  # marker, removed below
                    continue
                fields = (
                    ["position", "type", "width", "data"]
                    if key == "nodes"
                    else ["source", "target", "animated", "data"]
                )
                for field in draw(st.lists(st.sampled_from(fields), unique=True)):
                    if field == "data":
                        mine["data"] = draw(datas | json_values)
                    else:
                        _change_field(draw, mine, field)
            elif mode == "split":
                fields = ["position", "type", "width"] if key == "nodes" else ["animated"]
                fields += [f"data.{k}" for k in DATA_KEYS]
                for field in fields:
                    owner = draw(st.sampled_from(["x", "y", None]))
                    if owner is not None:
                        _change_field(draw, sides[owner][key][index], field)
    if draw(st.booleans()):
        sides[draw(st.sampled_from(["x", "y"]))]["name"] = draw(st.sampled_from(["P", "Q", "A"]))
    for name, side in sides.items():
        for key in ("nodes", "edges"):
            side[key] = [e for e in side[key] if not e.get("deleted")]
        new_nodes = [draw(nodes(f"{name}n{i}")) for i in range(draw(st.integers(0, 2)))]
        side["nodes"] += new_nodes
        targets = [n["id"] for n in side["nodes"]]
        if targets:
            side["edges"] += [
                draw(edges(f"{name}e{i}", targets)) for i in range(draw(st.integers(0, 2)))
            ]
        side["nodes"] = draw(st.permutations(side["nodes"]))
        side["edges"] = draw(st.permutations(side["edges"]))
    return base, sides["x"], sides["y"]


@st.composite
def edited(draw: st.DrawFn, base: dict[str, Any]) -> dict[str, Any]:
    """A plausible successor of ``base``: some moves, data edits, deletions and additions."""
    doc = copy.deepcopy(base)
    kept = []
    for node in doc["nodes"]:
        action = draw(st.sampled_from(["keep", "keep", "move", "data", "delete"]))
        if action == "delete":
            continue
        if action == "move":
            node["position"] = draw(positions)
        elif action == "data":
            _change_field(draw, node, f"data.{draw(st.sampled_from(DATA_KEYS))}")
        kept.append(node)
    extra = [n for n in NODE_IDS if n not in {k["id"] for k in kept}]
    for ident in draw(st.lists(st.sampled_from(extra), unique=True, max_size=2)) if extra else []:
        kept.append(draw(nodes(ident)))
    if draw(st.integers(0, 5)) == 0:
        kept = draw(st.permutations(kept))
    doc["nodes"] = kept
    ids = {n["id"] for n in kept}
    doc["edges"] = [e for e in doc["edges"] if e["source"] in ids and e["target"] in ids]
    if kept and draw(st.booleans()):
        free = [e for e in EDGE_IDS if e not in {x["id"] for x in doc["edges"]}]
        if free:
            doc["edges"].append(draw(edges(free[0], [n["id"] for n in kept])))
    if draw(st.integers(0, 9)) == 0:
        doc["name"] = draw(st.text(min_size=1, max_size=5))
    return doc

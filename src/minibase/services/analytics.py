"""Analytics of an org over a time range, and suggestions with the evidence behind each.

Runs, node executions and output bytes come from the rollups (``store/analytics_rollups.py``):
whole days and 16-day blocks are read from rollup rows, the partial days at the range's
edges from the raw rows, aggregated by the same SQL into the same shape and merged here.
Versions and the audit log are read directly (indexed by time). Percentiles are
nearest-rank, read from latency histograms (``domain/latency_histogram.py``, which states
their accuracy). Node times are the ``compute_time`` of node executions that ran (cached
results are counted as runs of the type but take no time and are left out of the
percentiles).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import distinct, func, literal_column

from minibase.domain.latency_histogram import Histogram
from minibase.domain.principal import Principal
from minibase.errors import NotFound, ValidationFailed
from minibase.ids import now_ms
from minibase.services import flows as flows_service
from minibase.services.orgs import load_org
from minibase.services.usage import limits_of
from minibase.store import analytics_rollups as rollups
from minibase.store.tables import audit_events, flow_versions
from minibase.store.unit_of_work import Store, TenantUnitOfWork

DAY_MS = 86_400_000
MAX_RANGE_MS = 366 * DAY_MS
DEFAULT_RANGE_MS = 30 * DAY_MS
TOP = 10

CACHE_MIN_P95_MS = 500.0
"""A node is worth caching when its p95 is at least this ..."""
CACHE_MIN_REPEAT = 0.5
"""... and its inputs were the same as an earlier run's at least this often."""
CACHE_MIN_RUNS = 5
BOTTLENECK_SHARE = 0.5
"""A node on a flow's critical path taking at least this share of the path's time."""
ALWAYS_FAILS_MIN = 3


@dataclass(frozen=True, slots=True)
class Range:
    start: int
    end: int
    flow_id: str | None


def parse_range(start: int | None, end: int | None, flow_id: str | None) -> Range:
    """``[from, to)`` in ms; default the last 30 days; over 366 days or inverted → 422."""
    end = end if end is not None else now_ms()
    start = start if start is not None else end - DEFAULT_RANGE_MS
    if end <= start:
        raise ValidationFailed(
            [{"field": "to", "message": "`to` must be after `from`.", "type": "value_error"}]
        )
    if end - start > MAX_RANGE_MS:
        raise ValidationFailed(
            [{"field": "from", "message": "At most 366 days at once.", "type": "value_error"}]
        )
    return Range(start, end, flow_id)


@dataclass(slots=True)
class NodeStat:
    """One (flow, node, type) over the range: executions, failures, times, cache keys."""

    flow_id: str
    node_id: str
    type: str
    executions: int = 0
    failures: int = 0
    timed: int = 0
    compute_ms: float = 0.0
    keyed: int = 0
    repeats: int = 0
    keyed_ms: float = 0.0
    hist: Histogram = field(default_factory=Histogram)

    @property
    def p50(self) -> float | None:
        return self.hist.percentile(50)

    @property
    def p95(self) -> float | None:
        return self.hist.percentile(95)


@dataclass(slots=True)
class FlowStat:
    """One flow over the range: runs, failed runs, wall times."""

    flow_id: str
    runs: int = 0
    failures: int = 0
    hist: Histogram = field(default_factory=Histogram)


def _node_stats(rows: list[rollups.Row]) -> dict[tuple[str, str, str], NodeStat]:
    """Merge rows of :func:`rollups.raw_nodes` and :func:`rollups.rolled_nodes`."""
    stats: dict[tuple[str, str, str], NodeStat] = {}
    for row in rows:
        key = (str(row[0]), str(row[1]), str(row[2]))
        stat = stats.get(key)
        if stat is None:
            stat = stats[key] = NodeStat(*key)
        execs, fails, timed, compute, _max, keyed, repeats, keyed_ms = row[3:11]
        stat.executions += int(execs or 0)
        stat.failures += int(fails or 0)
        stat.timed += int(timed or 0)
        stat.compute_ms += float(compute or 0)
        stat.keyed += int(keyed or 0)
        stat.repeats += int(repeats or 0)
        stat.keyed_ms += float(keyed_ms or 0)
        stat.hist.merge(Histogram.from_columns(row[11:]))
    return stats


def _ms(value: Any) -> float | None:
    return None if value is None else round(float(value), 3)


async def analytics(store: Store, org_id: str, principal: Principal, r: Range) -> dict[str, Any]:
    async with store.tenant(org_id, principal) as uow:
        if r.flow_id is not None:
            await flows_service.get_flow_in(uow, r.flow_id)
        return await _analytics(uow, r)


async def _analytics(uow: TenantUnitOfWork, r: Range) -> dict[str, Any]:
    periods = rollups.split(r.start, r.end)
    per_node = _node_stats(
        await rollups.raw_nodes(uow, periods.raw, r.flow_id)
        + await rollups.rolled_nodes(uow, periods.rolled, r.flow_id)
    )

    # Node types: executions, failures (all), times (those that ran).
    by_type: dict[str, NodeStat] = {}
    for stat in per_node.values():
        merged = by_type.setdefault(stat.type, NodeStat("", "", stat.type))
        merged.executions += stat.executions
        merged.failures += stat.failures
        merged.hist.merge(stat.hist)
    node_types = [
        {
            "type": t.type,
            "runs": t.executions,
            "p50": _ms(t.p50),
            "p95": _ms(t.p95),
            "max": _ms(t.hist.maximum()),
            "failures": t.failures,
        }
        for t in sorted(by_type.values(), key=lambda t: (-t.executions, t.type))
    ]

    # Slowest nodes: p95 per (flow, node).
    timed_nodes = [s for s in per_node.values() if s.hist.total]
    slowest = sorted(timed_nodes, key=lambda s: (-float(s.p95 or 0), s.flow_id, s.node_id))
    slowest_nodes = [
        {"flowId": s.flow_id, "nodeId": s.node_id, "type": s.type, "p95": _ms(s.p95)}
        for s in slowest[:TOP]
    ]

    # Flows: runs, failed runs, p95 of the run's wall time; per day: runs and failures.
    flows: dict[str, FlowStat] = {}
    days: dict[int, dict[str, Any]] = defaultdict(
        lambda: {"runs": 0, "failures": 0, "edits": 0, "activeUsers": 0, "storage": 0}
    )

    def add_flow(flow_id: str, runs: Any, failures: Any, hist: Sequence[Any]) -> None:
        stat = flows.setdefault(flow_id, FlowStat(flow_id))
        stat.runs += int(runs or 0)
        stat.failures += int(failures or 0)
        stat.hist.merge(Histogram.from_columns(hist))

    for row in await rollups.raw_runs(uow, periods.raw, r.flow_id):
        flow_id, day, runs, failures = row[0], int(row[1]), row[2], row[3]
        add_flow(str(flow_id), runs, failures, row[7:])
        days[day]["runs"] += int(runs or 0)
        days[day]["failures"] += int(failures or 0)
    for row in await rollups.rolled_runs(uow, periods.rolled, r.flow_id):
        add_flow(str(row[0]), row[1], row[2], row[6:])
    if periods.days is not None:
        for day, runs, failures, output_bytes in await rollups.rolled_days(
            uow, periods.days, r.flow_id
        ):
            entry = days[int(day)]
            entry["runs"] += int(runs or 0)
            entry["failures"] += int(failures or 0)
            entry["storage"] += int(output_bytes or 0)
    for day, output_bytes in await rollups.raw_output_bytes(uow, periods.raw, r.flow_id):
        days[int(day)]["storage"] += int(output_bytes or 0)
    flow_stats = [
        {
            "flowId": f.flow_id,
            "runs": f.runs,
            "failures": f.failures,
            "p95": _ms(f.hist.percentile(95)),
        }
        for f in sorted(flows.values(), key=lambda f: (-f.runs, f.flow_id))
        if f.runs
    ]

    daily, usage = await _activity(uow, r, days)
    suggestions = await _suggestions(uow, per_node, flow_stats)
    return {
        "from": r.start,
        "to": r.end,
        "flowId": r.flow_id,
        "nodeTypes": node_types,
        "slowestNodes": slowest_nodes,
        "flows": flow_stats,
        "usage": usage,
        "daily": daily,
        "suggestions": suggestions,
    }


def _day(column: Any) -> Any:
    # Literals, not parameters: PostgreSQL must see the same expression in GROUP BY.
    day: Any = literal_column(str(DAY_MS))
    return (column // day) * day


async def _activity(
    uow: TenantUnitOfWork, r: Range, days: dict[int, dict[str, Any]]
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Per day and in total: runs and failures and output bytes (``days``, from the
    rollups), edits (versions), active users (audit actors), bytes of versions written."""
    fv = flow_versions.c
    version_filter = [fv.created_at >= r.start, fv.created_at < r.end]
    if r.flow_id is not None:
        version_filter.append(fv.flow_id == r.flow_id)
    for row in (
        await uow.execute(
            uow.select(
                flow_versions,
                _day(fv.created_at).label("day"),
                func.count().label("edits"),
                func.sum(fv.size_bytes).label("bytes"),
            )
            .where(*version_filter)
            .group_by(_day(fv.created_at))
        )
    ).all():
        days[int(row.day)]["edits"] = int(row.edits)
        days[int(row.day)]["storage"] += int(row.bytes or 0)

    ae = audit_events.c
    active = [ae.at >= r.start, ae.at < r.end, ae.actor_type == "user", ae.outcome == "success"]
    for row in (
        await uow.execute(
            uow.select(
                audit_events,
                _day(ae.at).label("day"),
                func.count(distinct(ae.actor_id)).label("users"),
            )
            .where(*active)
            .group_by(_day(ae.at))
        )
    ).all():
        days[int(row.day)]["activeUsers"] = int(row.users)
    total_users = (
        await uow.execute(
            uow.select(audit_events, func.count(distinct(ae.actor_id))).where(*active)
        )
    ).scalar_one()
    org = await load_org(uow)
    daily = [{"day": day, **values} for day, values in sorted(days.items())]
    usage = {
        "activeUsers": int(total_users),
        "edits": sum(d["edits"] for d in daily),
        "runs": sum(d["runs"] for d in daily),
        "storage": int(org.storage_used),
    }
    return daily, usage


async def _suggestions(
    uow: TenantUnitOfWork,
    per_node: dict[tuple[str, str, str], NodeStat],
    flow_stats: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    out += _cache_suggestions(per_node)
    out += await _bottlenecks(uow, per_node, flow_stats)
    out += _always_failing(per_node)
    out += await _unused_types(uow, per_node)
    return out


def _by_node(per_node: dict[tuple[str, str, str], NodeStat]) -> dict[tuple[str, str], NodeStat]:
    """Per (flow, node) that computed: its times (of the type it ran most as, should its
    type have changed within the range)."""
    out: dict[tuple[str, str], NodeStat] = {}
    for stat in per_node.values():
        if not stat.hist.total:
            continue
        seen = out.get((stat.flow_id, stat.node_id))
        if seen is None or (stat.hist.total, stat.type) > (seen.hist.total, seen.type):
            out[(stat.flow_id, stat.node_id)] = stat
    return out


def _cache_suggestions(per_node: dict[tuple[str, str, str], NodeStat]) -> list[dict[str, Any]]:
    """Slow nodes recomputed with the same inputs (the same cache key) as an earlier run."""
    keyed: dict[tuple[str, str], list[NodeStat]] = defaultdict(list)
    for stat in per_node.values():
        keyed[(stat.flow_id, stat.node_id)].append(stat)
    out = []
    for (flow_id, node_id), stat in _by_node(per_node).items():
        if stat.hist.total < CACHE_MIN_RUNS or float(stat.p95 or 0) < CACHE_MIN_P95_MS:
            continue
        stats = keyed[(flow_id, node_id)]
        n = sum(s.keyed for s in stats)
        repeats = sum(s.repeats for s in stats)
        if not n:
            continue
        repeat = repeats / n
        if repeat < CACHE_MIN_REPEAT:
            continue
        saving = sum(s.keyed_ms for s in stats) * repeat
        p95 = float(stat.p95 or 0)
        out.append(
            {
                "kind": "cache",
                "flowId": flow_id,
                "nodeId": node_id,
                "message": (
                    f"Node {node_id} took p95 {p95 / 1000:.1f} s and its inputs "
                    f"did not change in {repeat:.0%} of runs: cache it."
                ),
                "estimatedSavingMs": round(saving, 3),
                "evidence": {
                    "runs": n,
                    "distinctInputs": n - repeats,
                    "p95": _ms(p95),
                    "repeatShare": round(repeat, 4),
                },
            }
        )
    return sorted(out, key=lambda s: -s["estimatedSavingMs"])


def critical_path(
    weights: dict[str, float], edges: list[tuple[str, str]]
) -> tuple[list[str], float]:
    """The heaviest path through the DAG (node weights), and its weight."""
    succ: dict[str, list[str]] = defaultdict(list)
    indegree = dict.fromkeys(weights, 0)
    for a, b in edges:
        if a in weights and b in weights:
            succ[a].append(b)
            indegree[b] += 1
    order = [n for n, d in indegree.items() if d == 0]
    best = {n: weights[n] for n in weights}
    prev: dict[str, str | None] = dict.fromkeys(weights)
    i = 0
    while i < len(order):
        node = order[i]
        i += 1
        for nxt in succ[node]:
            if best[node] + weights[nxt] > best[nxt]:
                best[nxt] = best[node] + weights[nxt]
                prev[nxt] = node
            indegree[nxt] -= 1
            if indegree[nxt] == 0:
                order.append(nxt)
    if not best:
        return [], 0.0
    end = max(best, key=lambda n: (best[n], n))
    path: list[str] = []
    cursor: str | None = end
    while cursor is not None:
        path.append(cursor)
        cursor = prev[cursor]
    return path[::-1], best[end]


async def _bottlenecks(
    uow: TenantUnitOfWork,
    per_node: dict[tuple[str, str, str], NodeStat],
    flow_stats: list[dict[str, Any]],
) -> list[dict[str, Any]]:
    """Nodes taking most of their flow's critical path (weights: each node's p50)."""
    by_flow: dict[str, dict[str, NodeStat]] = defaultdict(dict)
    for (flow_id, node_id), node_stat in _by_node(per_node).items():
        by_flow[flow_id][node_id] = node_stat
    out = []
    for stat in flow_stats[:TOP]:
        flow_nodes = by_flow.get(stat["flowId"])
        if not flow_nodes:
            continue
        try:
            doc = orjson.loads((await flows_service.get_flow_in(uow, stat["flowId"])).body)
        except NotFound:  # deleted since: nothing to say about it
            continue
        edges = [(e["source"], e["target"]) for e in doc["edges"]]
        weights = {node: float(row.p50 or 0) for node, row in flow_nodes.items()}
        path, total = critical_path(weights, edges)
        if len(path) < 2 or total <= 0:
            continue
        heaviest = max(path, key=lambda n: weights[n])
        share = weights[heaviest] / total
        if share < BOTTLENECK_SHARE:
            continue
        row = flow_nodes[heaviest]
        out.append(
            {
                "kind": "bottleneck",
                "flowId": stat["flowId"],
                "nodeId": heaviest,
                "message": (
                    f"Node {heaviest} takes {share:.0%} of the critical path of its flow "
                    f"(p50 {weights[heaviest] / 1000:.1f} s of {total / 1000:.1f} s along "
                    f"{' → '.join(path)}): speed it up or split it."
                ),
                "estimatedSavingMs": round(weights[heaviest] / 2, 3),
                "evidence": {
                    "criticalPath": path,
                    "pathMs": round(total, 3),
                    "p50": _ms(row.p50),
                    "share": round(share, 4),
                },
            }
        )
    return out


def _always_failing(per_node: dict[tuple[str, str, str], NodeStat]) -> list[dict[str, Any]]:
    """Flows whose failed runs all failed at one node (a run records each node once, so a
    node's failures are its failed runs)."""
    failing: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for stat in per_node.values():
        if stat.failures:
            failing[stat.flow_id][stat.node_id] += stat.failures
    out = []
    for flow_id, nodes in failing.items():
        if len(nodes) != 1:
            continue
        ((node_id, failed_runs),) = nodes.items()
        if failed_runs < ALWAYS_FAILS_MIN:
            continue
        out.append(
            {
                "kind": "always_fails",
                "flowId": flow_id,
                "nodeId": node_id,
                "message": (
                    f"All {failed_runs} failed runs of this flow failed at node "
                    f"{node_id}: fix that node first."
                ),
                "evidence": {"failedRuns": failed_runs},
            }
        )
    return out


async def _unused_types(
    uow: TenantUnitOfWork, per_node: dict[tuple[str, str, str], NodeStat]
) -> list[dict[str, Any]]:
    """Types the org allows (``allowedNodeTypes``) that no run used in the range."""
    allowed = limits_of(await load_org(uow)).allowed_node_types
    if not allowed:
        return []
    used = {stat.type for stat in per_node.values() if stat.executions}
    unused = sorted(set(allowed) - used)
    if not unused:
        return []
    return [
        {
            "kind": "unused_node_types",
            "flowId": None,
            "message": (
                f"Node types {', '.join(unused)} are allowed but no run used them in this "
                "period: remove them from allowedNodeTypes to keep the palette short."
            ),
            "evidence": {"types": unused},
        }
    ]

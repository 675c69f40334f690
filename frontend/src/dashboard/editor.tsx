/** One flow on a React Flow canvas, live with the other editors; history and outputs beside it. */

import { useEffect, useMemo, useRef, useState, type PointerEvent } from "react";
import {
  Background,
  Controls,
  Handle,
  MiniMap,
  Position,
  ReactFlow,
  ReactFlowProvider,
  ViewportPortal,
  useReactFlow,
  type Edge,
  type Node,
  type NodeProps,
} from "@xyflow/react";
import { useStore } from "zustand";
import { createFlowStore, type FlowStore, type NodeOutput, type Page, type Run, type VersionSummary } from "../client/minibase";
import { client, roleIn, useSession } from "./session";
import { ErrorMessage, Form, Link, formatTime, useAction } from "./ui";
import { useLiveQuery } from "./flows";
import { SchedulesPanel } from "./schedules";
import { WebhooksPanel } from "./webhooks";

/** Any node type (the engine's `constant`, `map`, ... or your own): its label, else its type. */
function AnyNode({ data, selected }: NodeProps) {
  const d = data as { label?: unknown; __type?: string };
  const label = typeof d.label === "string" && d.label ? d.label : (d.__type ?? "node");
  return (
    <div className={`any-node${selected ? " selected" : ""}`}>
      <Handle type="target" position={Position.Top} />
      <div>{label}</div>
      {d.__type && d.__type !== "default" && label !== d.__type && <div className="muted">{d.__type}</div>}
      <Handle type="source" position={Position.Bottom} />
    </div>
  );
}

const NODE_TYPES = { minibase: AnyNode };

type PanelName = "history" | "outputs" | "runs" | "schedules" | "webhooks";

export function FlowEditorPage({ orgId, flowId }: { orgId: string; flowId: string }) {
  const me = useSession((s) => s.me);
  const readOnly = roleIn(me, orgId) === "viewer";
  const store = useMemo(
    () => createFlowStore(client, { orgId, user: { id: me?.user.id, name: me?.user.name || me?.user.email } }),
    // eslint-disable-next-line react-hooks/exhaustive-deps
    [orgId, flowId],
  );
  useEffect(() => {
    store.getState().setReadOnly(readOnly);
  }, [store, readOnly]);
  useEffect(() => store.getState().subscribeToUpdates(flowId), [store, flowId]);
  return (
    <ReactFlowProvider>
      <Editor store={store} orgId={orgId} flowId={flowId} readOnly={readOnly} />
    </ReactFlowProvider>
  );
}

function Editor({ store, orgId, flowId, readOnly }: { store: FlowStore; orgId: string; flowId: string; readOnly: boolean }) {
  const nodes = useStore(store, (s) => s.nodes);
  const edges = useStore(store, (s) => s.edges);
  const peers = useStore(store, (s) => s.peers);
  const flow = useStore(store, (s) => s.currentFlow);
  const connection = useStore(store, (s) => s.connection);
  const storeError = useStore(store, (s) => s.error);
  const showHistory = useStore(store, (s) => s.showHistoryPanel);
  const selectedNodeId = useStore(store, (s) => s.selectedNodeId);
  const { onNodesChange, onEdgesChange, onConnect, setCursor, setShowHistoryPanel } = store.getState();
  const { screenToFlowPosition } = useReactFlow();
  const [panel, setPanel] = useState<PanelName | null>(null);
  const lastCursor = useRef(0);

  // Nodes other people have selected get their colour.
  // What the canvas draws: every node through one component that shows any type, and
  // nodes other people have selected in their colour. (Changes come back by id only.)
  const shown = useMemo(() => {
    const marks = new Map<string, string>();
    for (const peer of peers) for (const id of peer.selection) marks.set(id, peer.user.color ?? "#888");
    return nodes.map((n) => {
      const color = marks.get(n.id);
      const drawn = { ...n, type: "minibase", data: { ...n.data, __type: n.type } } as Node;
      return color ? { ...drawn, className: "peer-selected", style: { ...(n.style as object), boxShadow: `0 0 0 3px ${color}` } } : drawn;
    });
  }, [nodes, peers]);

  const onPointerMove = (event: PointerEvent) => {
    const now = performance.now();
    if (now - lastCursor.current < 50) return;
    lastCursor.current = now;
    setCursor(screenToFlowPosition({ x: event.clientX, y: event.clientY }));
  };

  const addNode = () => {
    const id = `n${Date.now().toString(36)}${Math.random().toString(36).slice(2, 6)}`;
    const center = screenToFlowPosition({ x: window.innerWidth / 2, y: window.innerHeight / 2 });
    // In the middle of the view, below any node already there.
    const position = { x: Math.round(center.x - 75), y: Math.round(center.y - 20) };
    const taken = (p: { x: number; y: number }) =>
      store.getState().nodes.some((n) => Math.abs(n.position.x - p.x) < 170 && Math.abs(n.position.y - p.y) < 70);
    for (let i = 0; i < 50 && taken(position); i++) position.y += 80;
    store.getState().addNode({ id, type: "default", position, data: { label: `Node ${nodes.length + 1}` } });
  };

  const togglePanel = (which: PanelName) => {
    const next = panel === which ? null : which;
    setPanel(next);
    setShowHistoryPanel(next === "history");
  };

  return (
    <div className="editor">
      <div className="toolbar" role="toolbar" aria-label="Flow tools">
        <Link to={`/orgs/${orgId}`}>← Flows</Link>
        <FlowName orgId={orgId} flowId={flowId} name={flow?.name ?? ""} readOnly={readOnly} />
        <span className={`status ${connection}`} data-testid="connection">
          {connection === "connected" ? "Live" : connection === "connecting" ? "Connecting…" : "Offline"}
        </span>
        {flow && <span className="muted">v{flow.version}</span>}
        {readOnly ? (
          <span className="badge" data-testid="read-only">
            Read only
          </span>
        ) : (
          <button type="button" onClick={addNode}>
            Add node
          </button>
        )}
        <span className="peers" aria-label="Also here">
          {peers.map((p) => (
            <span key={p.clientId} className="peer" style={{ background: p.user.color }} title={p.user.name}>
              {(p.user.name ?? "?").slice(0, 1).toUpperCase()}
            </span>
          ))}
        </span>
        <button type="button" aria-pressed={panel === "history" || showHistory} onClick={() => togglePanel("history")}>
          History
        </button>
        <button type="button" aria-pressed={panel === "outputs"} onClick={() => togglePanel("outputs")}>
          Outputs
        </button>
        <button type="button" aria-pressed={panel === "runs"} onClick={() => togglePanel("runs")}>
          Runs
        </button>
        <button type="button" aria-pressed={panel === "schedules"} onClick={() => togglePanel("schedules")}>
          Schedules
        </button>
        <button type="button" aria-pressed={panel === "webhooks"} onClick={() => togglePanel("webhooks")}>
          Webhooks
        </button>
      </div>
      <ErrorMessage error={storeError} />
      <div className="workspace">
        <div className="canvas" onPointerMove={onPointerMove} onPointerLeave={() => setCursor(null)} data-testid="canvas">
          <ReactFlow
            nodes={shown}
            edges={edges as Edge[]}
            onNodesChange={onNodesChange}
            onEdgesChange={onEdgesChange}
            onConnect={onConnect}
            nodeTypes={NODE_TYPES}
            nodesDraggable={!readOnly}
            nodesConnectable={!readOnly}
            elementsSelectable
            deleteKeyCode={readOnly ? null : ["Backspace", "Delete"]}
            fitView
            fitViewOptions={{ maxZoom: 1 }}
            proOptions={{ hideAttribution: true }}
          >
            <Background />
            <Controls />
            <MiniMap pannable zoomable />
            <ViewportPortal>
              {peers
                .filter((p) => p.cursor)
                .map((p) => (
                  <div
                    key={p.clientId}
                    className="cursor"
                    data-testid="peer-cursor"
                    style={{ transform: `translate(${p.cursor!.x}px, ${p.cursor!.y}px)`, color: p.user.color }}
                  >
                    <svg width="14" height="14" viewBox="0 0 14 14" aria-hidden="true">
                      <path d="M0 0 L14 5 L6 7 L4 14 Z" fill="currentColor" />
                    </svg>
                    <span style={{ background: p.user.color }}>{p.user.name}</span>
                  </div>
                ))}
            </ViewportPortal>
          </ReactFlow>
        </div>
        {selectedNodeId && <Inspector store={store} nodeId={selectedNodeId} readOnly={readOnly} />}
        {panel === "history" && <HistoryPanel orgId={orgId} flowId={flowId} readOnly={readOnly} />}
        {panel === "outputs" && <OutputsPanel orgId={orgId} flowId={flowId} />}
        {panel === "runs" && <RunsPanel orgId={orgId} flowId={flowId} readOnly={readOnly} />}
        {panel === "schedules" && <SchedulesPanel orgId={orgId} flowId={flowId} readOnly={readOnly} />}
        {panel === "webhooks" && <WebhooksPanel orgId={orgId} flowId={flowId} readOnly={readOnly} />}
      </div>
    </div>
  );
}

function FlowName({ orgId, flowId, name, readOnly }: { orgId: string; flowId: string; name: string; readOnly: boolean }) {
  const [value, setValue] = useState(name);
  const { error, run } = useAction();
  useEffect(() => setValue(name), [name]);
  if (readOnly) return <h1 className="flow-name">{name}</h1>;
  return (
    <Form label="Flow name" onSubmit={() => (value && value !== name ? run(() => client.flows.rename(orgId, flowId, value)) : undefined)}>
      <input aria-label="Flow name" className="flow-name" value={value} onChange={(e) => setValue(e.target.value)} onBlur={(e) => e.currentTarget.form?.requestSubmit()} />
      <ErrorMessage error={error} />
    </Form>
  );
}

function Inspector({ store, nodeId, readOnly }: { store: FlowStore; nodeId: string; readOnly: boolean }) {
  const node = useStore(store, (s) => s.nodes.find((n) => n.id === nodeId));
  const locked = useStore(store, (s) => s.inspectorLocked);
  const label = typeof node?.data?.label === "string" ? node.data.label : "";
  const [value, setValue] = useState(label);
  useEffect(() => setValue(label), [label]);
  if (!node) return null;
  return (
    <aside className="panel" aria-label="Node">
      <h2>Node {node.id}</h2>
      <p className="muted">Type: {node.type ?? "default"}</p>
      <Form label="Node label" onSubmit={() => store.getState().updateNodeData(nodeId, { label: value })}>
        <label>
          Label
          <input value={value} disabled={readOnly || locked} onChange={(e) => setValue(e.target.value)} />
        </label>
        {!readOnly && (
          <button type="submit" disabled={locked}>
            Apply
          </button>
        )}
      </Form>
      <label className="check">
        <input type="checkbox" checked={locked} onChange={(e) => store.getState().setInspectorLocked(e.target.checked)} /> Lock inspector
      </label>
    </aside>
  );
}

function HistoryPanel({ orgId, flowId, readOnly }: { orgId: string; flowId: string; readOnly: boolean }) {
  const { value, error } = useLiveQuery<Page<VersionSummary>>("versions.list", { orgId, flowId });
  const [diff, setDiff] = useState<{ version: number; body: Record<string, unknown> } | null>(null);
  const action = useAction();
  const showDiff = (version: number) =>
    action.run(async () => {
      const body = await client.versions.diff(orgId, flowId, Math.max(1, version - 1), version);
      setDiff({ version, body });
    });
  return (
    <aside className="panel" aria-label="Version history">
      <h2>Version history</h2>
      <ErrorMessage error={error ?? action.error} />
      {!value ? (
        <p>Loading…</p>
      ) : (
        <ol className="versions">
          {value.items.map((v) => (
            <li key={v.version} data-version={v.version}>
              <strong>v{v.version}</strong> <span className="muted">{formatTime(v.createdAt)}</span>
              <div className="muted">{describeSummary(v.summary)}</div>
              <button type="button" className="link" onClick={() => void showDiff(v.version)}>
                Changes
              </button>
              {!readOnly && (
                <button
                  type="button"
                  className="link"
                  onClick={() => {
                    if (confirm(`Restore version ${v.version}? The current flow is kept in the history.`)) {
                      void action.run(() => client.versions.restore(orgId, flowId, v.version));
                    }
                  }}
                >
                  Restore
                </button>
              )}
            </li>
          ))}
        </ol>
      )}
      {diff && <DiffView version={diff.version} body={diff.body} onClose={() => setDiff(null)} />}
    </aside>
  );
}

function describeSummary(summary: Record<string, unknown>): string {
  const parts: string[] = [];
  for (const kind of ["nodes", "edges"]) {
    for (const what of ["Added", "Removed", "Changed"]) {
      const n = Number(summary[`${kind}${what}`] ?? 0);
      if (n) parts.push(`${n} ${kind.slice(0, -1)}${n === 1 ? "" : "s"} ${what.toLowerCase()}`);
    }
  }
  return parts.join(", ") || "no node or edge changes";
}

type EntitiesDiff = { added: Array<{ id: string }>; removed: Array<{ id: string }>; changed: Array<{ id: string; changes: Array<{ field: string }> }> };

function DiffView({ version, body, onClose }: { version: number; body: Record<string, unknown>; onClose: () => void }) {
  const changes = body.changes as { name: { from?: string; to?: string } | null; nodes: EntitiesDiff; edges: EntitiesDiff };
  const lines: string[] = [];
  if (changes.name) lines.push(`Renamed from "${changes.name.from ?? ""}" to "${changes.name.to ?? ""}"`);
  for (const kind of ["nodes", "edges"] as const) {
    const d = changes[kind];
    const noun = kind === "nodes" ? "node" : "edge";
    for (const e of d.added) lines.push(`Added ${noun} ${e.id}`);
    for (const e of d.removed) lines.push(`Removed ${noun} ${e.id}`);
    for (const e of d.changed) lines.push(`Changed ${noun} ${e.id}: ${e.changes.map((c) => c.field).join(", ")}`);
  }
  return (
    <div className="diff" role="region" aria-label={`Changes in version ${version}`}>
      <h3>Changes in v{version}</h3>
      <ul>{lines.length ? lines.map((l, i) => <li key={i}>{l}</li>) : <li>Nothing changed.</li>}</ul>
      <button type="button" className="link" onClick={onClose}>
        Close
      </button>
    </div>
  );
}

function OutputsPanel({ orgId, flowId }: { orgId: string; flowId: string }) {
  const { value, error } = useLiveQuery<Page<NodeOutput>>("outputs.list", { orgId, flowId });
  return (
    <aside className="panel" aria-label="Node outputs">
      <h2>Node outputs</h2>
      <ErrorMessage error={error} />
      {!value ? (
        <p>Loading…</p>
      ) : value.items.length === 0 ? (
        <p>No outputs yet.</p>
      ) : (
        <table className="list">
          <thead>
            <tr>
              <th>Node</th>
              <th>Compute time</th>
              <th>When</th>
              <th>Output</th>
            </tr>
          </thead>
          <tbody>
            {value.items.map((o) => (
              <tr key={o.id}>
                <td>{o.nodeId}</td>
                <td>{o.computeTime} ms</td>
                <td>{formatTime(o.timestamp)}</td>
                <td>
                  <code>{JSON.stringify(o.output).slice(0, 80)}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </aside>
  );
}

const FINISHED = new Set(["succeeded", "failed", "canceled", "timed_out"]);

function duration(start: number | null, end: number | null): string {
  if (!start) return "—";
  return `${((end ?? Date.now()) - start).toLocaleString()} ms`;
}

/** Runs of this flow, live: start one, cancel one, each node's status and timing. */
function RunsPanel({ orgId, flowId, readOnly }: { orgId: string; flowId: string; readOnly: boolean }) {
  const { value, error } = useLiveQuery<Page<Run>>("runs.list", { orgId, flowId });
  const [selected, setSelected] = useState<string | null>(null);
  const detail = useLiveQuery<Run>("runs.get", selected ? { orgId, runId: selected } : null);
  const action = useAction();
  const start = () =>
    action.run(async () => {
      const run = await client.runs.start(orgId, flowId);
      setSelected(run.id);
    });
  const run = selected ? (detail.value ?? value?.items.find((r) => r.id === selected) ?? null) : null;
  return (
    <aside className="panel" aria-label="Runs">
      <h2>Runs</h2>
      {!readOnly && (
        <button type="button" onClick={() => void start()} disabled={action.busy}>
          Run flow
        </button>
      )}
      <ErrorMessage error={error ?? action.error ?? detail.error} />
      {!value ? (
        <p>Loading…</p>
      ) : value.items.length === 0 ? (
        <p>No runs yet.</p>
      ) : (
        <ol className="versions">
          {value.items.map((r) => (
            <li key={r.id} data-run-id={r.id}>
              <button type="button" className="link" onClick={() => setSelected(r.id)} aria-pressed={selected === r.id}>
                {formatTime(r.createdAt)}
              </button>{" "}
              <span className={`badge run-${r.status}`} data-testid="run-status">
                {r.status}
              </span>{" "}
              <span className="muted">
                {r.trigger.type} · {duration(r.startedAt, r.finishedAt)}
              </span>
              {!readOnly && !FINISHED.has(r.status) && (
                <button type="button" className="link danger" onClick={() => void action.run(() => client.runs.cancel(orgId, r.id))}>
                  Cancel
                </button>
              )}
            </li>
          ))}
        </ol>
      )}
      {run && (
        <div className="diff" role="region" aria-label="Run details">
          <h3>
            Run {run.status}
            {run.error ? `: ${run.error.message}` : ""}
          </h3>
          <table className="list">
            <thead>
              <tr>
                <th>Node</th>
                <th>Status</th>
                <th>Time</th>
              </tr>
            </thead>
            <tbody>
              {run.nodes.map((n) => (
                <tr key={n.nodeId} data-node-id={n.nodeId}>
                  <td>
                    {n.nodeId} <span className="muted">{n.type}</span>
                  </td>
                  <td>
                    {n.status}
                    {n.cached ? " (cached)" : ""}
                    {n.error ? `: ${n.error.message}` : ""}
                  </td>
                  <td>{n.computeTime === null ? "—" : `${n.computeTime} ms`}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </aside>
  );
}

/**
 * `createFlowStore(client)`: the editor's hybrid state as a Zustand store.
 *
 * Local UI state (`selectedNodeId`, `showHistoryPanel`, `inspectorLocked`, selection,
 * measured sizes, a drag in progress) stays in this browser. `flows` and `currentFlow`
 * come from the server. Once `subscribeToUpdates(flowId)` has opened the flow's Yjs
 * document, React Flow's `onNodesChange` / `onEdgesChange` / `onConnect` write to it,
 * one transaction per call (a drag writes its final position on drag end), and every
 * change, local or remote, arrives in `nodes` and `edges`.
 */

import { createStore, type StoreApi } from "zustand/vanilla";
import * as Y from "yjs";
import { EntityList, entityToY, setData, setFields } from "./binding";
import type { CollabSession } from "./collab";
import { MinibaseError } from "./errors";
import type { Flow, FlowEdge, FlowNode, FlowSummary } from "./types";
import { stripLocal } from "./viewFields";
import type { MinibaseClient } from "./minibase";

/** A node as React Flow holds it: the stored fields plus this viewer's own. */
export type CanvasNode = FlowNode & {
  selected?: boolean;
  dragging?: boolean;
  resizing?: boolean;
  measured?: { width?: number; height?: number };
};
export type CanvasEdge = FlowEdge & { selected?: boolean };

/** React Flow's `NodeChange` / `EdgeChange`, structurally (no dependency on React). */
export interface ChangeLike {
  type: string;
  id?: string;
  item?: Record<string, unknown>;
  [key: string]: unknown;
}
export interface ConnectionLike {
  source: string | null;
  target: string | null;
  sourceHandle?: string | null;
  targetHandle?: string | null;
}

export interface Peer {
  clientId: number;
  user: { id?: string; name?: string; color?: string };
  cursor: { x: number; y: number } | null;
  selection: string[];
}

export type ConnectionStatus = "offline" | "connecting" | "connected";

export interface FlowStoreState {
  // Local UI state: never sent.
  selectedNodeId: string | null;
  showHistoryPanel: boolean;
  inspectorLocked: boolean;
  // Persistent state: from the server.
  orgId: string | null;
  flows: FlowSummary[];
  currentFlow: Flow | null;
  // The canvas.
  nodes: CanvasNode[];
  edges: CanvasEdge[];
  peers: Peer[];
  connection: ConnectionStatus;
  readOnly: boolean;
  error: MinibaseError | null;

  setOrg(orgId: string): void;
  setSelectedNodeId(id: string | null): void;
  setShowHistoryPanel(show: boolean): void;
  setInspectorLocked(locked: boolean): void;
  setReadOnly(readOnly: boolean): void;
  /** Fetch the org's flow list into `flows`. */
  loadFlows(): Promise<FlowSummary[]>;
  /** Fetch one flow over REST into `currentFlow`, `nodes` and `edges`. */
  loadFromServer(flowId: string): Promise<Flow>;
  /**
   * Save a flow over REST (`PUT` with its `baseVersion`; the server merges a stale one).
   * Without an argument, saves the canvas as `currentFlow`. A flow without an `id` (or
   * one the server does not know) is created.
   */
  syncToServer(flow?: Partial<Flow> & { nodes?: FlowNode[]; edges?: FlowEdge[] }): Promise<Flow>;
  /** Go live on a flow: its Yjs document, presence, and the org's live flow list. Returns the stop function. */
  subscribeToUpdates(flowId: string): () => void;
  /** Create each flow kept in the browser in the org; returns the created flows by local id. */
  importLocalFlows(flows: Array<{ id?: string; name?: string; nodes?: FlowNode[]; edges?: FlowEdge[] }>): Promise<Array<{ localId: string | null; flow: Flow }>>;
  onNodesChange(changes: ChangeLike[]): void;
  onEdgesChange(changes: ChangeLike[]): void;
  onConnect(connection: ConnectionLike): void;
  addNode(node: FlowNode): void;
  updateNodeData(id: string, data: Record<string, unknown>): void;
  /** This user's pointer in flow coordinates, shown to the others (null: left the canvas). */
  setCursor(position: { x: number; y: number } | null): void;
}

export type FlowStore = StoreApi<FlowStoreState>;

export interface FlowStoreOptions {
  orgId?: string;
  /** Presence shown to others: `{name, color, id}`. */
  user?: { id?: string; name?: string; color?: string };
}

const COLORS = ["#e4572e", "#17bebb", "#ffc914", "#76b041", "#7d5ba6", "#2e86ab", "#f26419"];

function applyLocal<T extends { id: string }>(items: T[], changes: ChangeLike[]): T[] {
  const byId = new Map<string, ChangeLike[]>();
  const removed = new Set<string>();
  const added: T[] = [];
  for (const change of changes) {
    if (change.type === "add" && change.item) added.push(change.item as unknown as T);
    else if (change.type === "remove" && change.id) removed.add(change.id);
    else if (change.id) {
      const list = byId.get(change.id) ?? [];
      list.push(change);
      byId.set(change.id, list);
    }
  }
  const out: T[] = [];
  for (const item of items) {
    if (removed.has(item.id)) continue;
    const list = byId.get(item.id);
    if (!list) {
      out.push(item);
      continue;
    }
    let next: Record<string, unknown> = { ...item };
    for (const change of list) {
      switch (change.type) {
        case "select":
          next.selected = change.selected;
          break;
        case "position":
          if (change.position) next.position = change.position;
          if (change.dragging !== undefined) next.dragging = change.dragging;
          break;
        case "dimensions":
          if (change.dimensions) {
            next.measured = { ...(next.measured as object), ...(change.dimensions as object) };
            if (change.setAttributes) {
              const d = change.dimensions as { width: number; height: number };
              next.width = d.width;
              next.height = d.height;
            }
          }
          if (change.resizing !== undefined) next.resizing = change.resizing;
          break;
        case "replace":
          if (change.item) next = { ...(change.item as Record<string, unknown>) };
          break;
      }
    }
    out.push(next as T);
  }
  return added.length ? out.concat(added) : out;
}

/** Keep this viewer's fields (selection, measured size, a drag in progress) over fresh server state. */
function withLocal<T extends { id: string }>(fresh: T[], previous: T[], sources: WeakMap<object, object>): T[] {
  const prev = new Map(previous.map((item) => [item.id, item]));
  return fresh.map((entity) => {
    const old = prev.get(entity.id) as Record<string, unknown> | undefined;
    if (old && sources.get(old) === entity) return old as T;
    let out: Record<string, unknown> = entity;
    if (old && (old.selected || old.measured || old.dragging || old.resizing)) {
      out = { ...entity };
      if (old.selected) out.selected = true;
      if (old.measured) out.measured = old.measured;
      if (old.dragging) {
        out.dragging = true;
        out.position = old.position;
      }
      if (old.resizing) out.resizing = true;
    }
    sources.set(out, entity);
    return out as T;
  });
}

/** JSON equality that ignores the order of object keys. */
function sameJSON(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => sameJSON(v, bb[i]));
  }
  const ka = Object.keys(a as object);
  const ob = b as Record<string, unknown>;
  return ka.length === Object.keys(ob).length && ka.every((k) => k in ob && sameJSON((a as Record<string, unknown>)[k], ob[k]));
}

/**
 * Each entity that equals the server's copy (whatever its key order: objects rebuilt
 * from a Yjs document come in another one) replaced by that copy, which the server keeps
 * byte for byte: a save that changes nothing then makes no version.
 */
function asStored<T extends { id: string }>(items: T[], stored: T[] | undefined): T[] {
  if (!stored) return items;
  const byId = new Map(stored.map((item) => [item.id, item]));
  return items.map((item) => {
    const known = byId.get(item.id);
    return known && sameJSON(item, known) ? known : item;
  });
}

function edgeId(c: ConnectionLike): string {
  return `xy-edge__${c.source}${c.sourceHandle ?? ""}-${c.target}${c.targetHandle ?? ""}`;
}

export function createFlowStore(client: MinibaseClient, options: FlowStoreOptions = {}): FlowStore {
  let session: CollabSession | null = null;
  /** The flow as the server last sent it over REST (entities in its key order). */
  let lastStored: Flow | null = null;
  let nodeList: EntityList<FlowNode> | null = null;
  let edgeList: EntityList<FlowEdge> | null = null;
  const sources = new WeakMap<object, object>();
  const user = {
    ...options.user,
    color: options.user?.color ?? COLORS[Math.floor(Math.random() * COLORS.length)],
  };

  const store = createStore<FlowStoreState>()((set, get) => {
    const requireOrg = (): string => {
      const orgId = get().orgId;
      if (!orgId) throw new MinibaseError(0, "bad_request", "No organization chosen: call setOrg(orgId) first.");
      return orgId;
    };

    const showFlow = (flow: Flow) => {
      lastStored = flow;
      set({
        currentFlow: flow,
        nodes: withLocal(flow.nodes as CanvasNode[], get().nodes, sources),
        edges: withLocal(flow.edges as CanvasEdge[], get().edges, sources),
      });
    };

    const updateCurrent = (patch: Partial<Flow>) => {
      const current = get().currentFlow;
      if (current) set({ currentFlow: { ...current, ...patch } });
    };

    const selection = (): string[] => get().nodes.filter((n) => n.selected).map((n) => n.id);

    const publishSelection = () => {
      session?.awareness.setLocalStateField("selection", selection());
    };

    // Writes made before the document first holds the server's state wait for it, so
    // that they apply to the server's entries (not to an empty document).
    let pending: Array<(nodes: Y.Map<unknown>, edges: Y.Map<unknown>) => void> | null = null;
    const transact = (fn: (nodes: Y.Map<unknown>, edges: Y.Map<unknown>) => void) => {
      if (!session || get().readOnly) return false;
      if (pending) {
        pending.push(fn);
        return true;
      }
      const doc = session.doc;
      doc.transact(() => fn(doc.getMap("nodes"), doc.getMap("edges")), "minibase-store");
      return true;
    };

    return {
      selectedNodeId: null,
      showHistoryPanel: false,
      inspectorLocked: false,
      orgId: options.orgId ?? client.orgId ?? null,
      flows: [],
      currentFlow: null,
      nodes: [],
      edges: [],
      peers: [],
      connection: "offline",
      readOnly: false,
      error: null,

      setOrg: (orgId) => set({ orgId, flows: [], currentFlow: null, nodes: [], edges: [] }),
      setSelectedNodeId: (id) => set({ selectedNodeId: id }),
      setShowHistoryPanel: (show) => set({ showHistoryPanel: show }),
      setInspectorLocked: (locked) => set({ inspectorLocked: locked }),
      setReadOnly: (readOnly) => set({ readOnly }),

      async loadFlows() {
        const page = await client.flows.list(requireOrg(), { limit: 500 });
        set({ flows: page.items });
        return page.items;
      },

      async loadFromServer(flowId) {
        const flow = await client.flows.get(requireOrg(), flowId);
        showFlow(flow);
        return flow;
      },

      async syncToServer(input) {
        const orgId = requireOrg();
        const current = get().currentFlow;
        const flow = input ?? {
          ...current,
          nodes: get().nodes.map((n) => stripLocal(n)),
          edges: get().edges.map((e) => stripLocal(e)),
        };
        let nodes = (flow.nodes ?? []).map((n) => stripLocal(n as CanvasNode));
        let edges = (flow.edges ?? []).map((e) => stripLocal(e as CanvasEdge));
        let saved: Flow;
        try {
          if (flow.id) {
            const stored = lastStored?.id === flow.id ? lastStored : await client.flows.get(orgId, flow.id);
            nodes = asStored(nodes, stored.nodes);
            edges = asStored(edges, stored.edges);
          }
          if (!flow.id) {
            saved = await client.flows.create(orgId, { name: flow.name ?? "Untitled flow", nodes, edges });
          } else {
            saved = await client.flows.save(orgId, flow.id, {
              name: flow.name,
              nodes,
              edges,
              baseVersion: flow.version ?? (current?.id === flow.id ? current.version : 1),
            });
          }
        } catch (err) {
          if (err instanceof MinibaseError) set({ error: err });
          throw err;
        }
        if (!current || current.id === saved.id) showFlow(saved);
        const flows = get().flows;
        if (flows.length) {
          const summary: FlowSummary = {
            id: saved.id,
            name: saved.name,
            version: saved.version,
            lastModified: saved.lastModified,
            createdBy: saved.createdBy,
            nodeCount: saved.nodes.length,
            edgeCount: saved.edges.length,
          };
          const others = flows.filter((f) => f.id !== saved.id);
          set({ flows: [summary, ...others] });
        }
        return saved;
      },

      subscribeToUpdates(flowId) {
        const orgId = requireOrg();
        session?.destroy();
        nodeList?.destroy();
        edgeList?.destroy();
        const mine = client.collab(orgId, flowId, {
          presence: { user, cursor: null, selection: [] },
        });
        session = mine;
        pending = [];
        set({ connection: "connecting" });
        void mine.synced.then(() => {
          if (session !== mine) return;
          const queued = pending ?? [];
          pending = null;
          const doc = mine.doc;
          if (queued.length) {
            doc.transact(() => {
              for (const fn of queued) fn(doc.getMap("nodes"), doc.getMap("edges"));
            }, "minibase-store");
          }
          if (mine.provider.wsconnected) set({ connection: "connected" });
        });
        const doc = mine.doc;
        nodeList = new EntityList<FlowNode>(doc.getMap("nodes"), (items) => {
          set({ nodes: withLocal(items as CanvasNode[], get().nodes, sources) });
          updateCurrent({ nodes: items });
        });
        edgeList = new EntityList<FlowEdge>(doc.getMap("edges"), (items) => {
          set({ edges: withLocal(items as CanvasEdge[], get().edges, sources) });
          updateCurrent({ edges: items });
        });
        const meta = doc.getMap<unknown>("meta");
        const onMeta = () => {
          const name = meta.get("name");
          if (typeof name === "string") updateCurrent({ name });
        };
        meta.observe(onMeta);
        // "connected" once the document holds the server's state, and again after each reconnect.
        const onStatus = ({ status }: { status: string }) => {
          if (status !== "connected") set({ connection: "connecting" });
        };
        const onSync = (isSynced: boolean) => {
          if (isSynced && pending === null) set({ connection: "connected" });
        };
        mine.provider.on("sync", onSync);
        mine.provider.on("status", onStatus);
        const awareness = mine.awareness;
        const onAwareness = () => {
          const peers: Peer[] = [];
          awareness.getStates().forEach((state, clientId) => {
            if (clientId === awareness.clientID || !state?.user) return;
            peers.push({
              clientId,
              user: state.user as Peer["user"],
              cursor: (state.cursor as Peer["cursor"]) ?? null,
              selection: Array.isArray(state.selection) ? (state.selection as string[]) : [],
            });
          });
          set({ peers });
        };
        awareness.on("change", onAwareness);
        // The metadata (version, author) and the live list come over the sync socket.
        const live = client.subscribe("flows.list", { orgId }, (value) => {
          const page = value as { items: FlowSummary[] };
          set({ flows: page.items });
          const mineSummary = page.items.find((f) => f.id === flowId);
          if (mineSummary) updateCurrent({ version: mineSummary.version, lastModified: mineSummary.lastModified, name: mineSummary.name });
        });
        if (get().currentFlow?.id !== flowId) {
          client.flows.get(orgId, flowId).then(
            (flow) => {
              lastStored = flow;
              if (session === mine) set({ currentFlow: { ...flow, nodes: nodeList?.items() ?? flow.nodes, edges: edgeList?.items() ?? flow.edges } });
            },
            (err: unknown) => {
              if (err instanceof MinibaseError) set({ error: err });
            },
          );
        }
        return () => {
          live.unsubscribe();
          meta.unobserve(onMeta);
          awareness.off("change", onAwareness);
          mine.provider.off("status", onStatus);
          mine.provider.off("sync", onSync);
          if (session === mine) {
            nodeList?.destroy();
            edgeList?.destroy();
            nodeList = null;
            edgeList = null;
            session = null;
            pending = null;
            set({ connection: "offline", peers: [] });
          }
          mine.destroy();
        };
      },

      async importLocalFlows(flows) {
        const orgId = requireOrg();
        const out: Array<{ localId: string | null; flow: Flow }> = [];
        for (const local of flows) {
          const body = {
            name: local.name ?? "Imported flow",
            nodes: (local.nodes ?? []).map((n) => stripLocal(n as CanvasNode)),
            edges: (local.edges ?? []).map((e) => stripLocal(e as CanvasEdge)),
          };
          // A retry after a lost answer must not create the flow twice.
          const key = local.id ? `import-${orgId}-${local.id}` : undefined;
          const flow = await client.flows.create(orgId, body, { idempotencyKey: key });
          out.push({ localId: local.id ?? null, flow });
        }
        await get().loadFlows();
        return out;
      },

      onNodesChange(input) {
        // A read-only canvas still selects and measures, and changes nothing else.
        const changes = get().readOnly ? input.filter((c) => c.type === "select" || c.type === "dimensions") : input;
        const before = get().nodes;
        const nodes = applyLocal(before, changes);
        set({ nodes });
        const selected = changes.find((c) => c.type === "select" && c.selected);
        if (selected?.id) set({ selectedNodeId: selected.id });
        else if (changes.some((c) => c.type === "select") && !nodes.some((n) => n.selected)) set({ selectedNodeId: null });
        if (changes.some((c) => c.type === "select")) publishSelection();
        const wrote = transact((yNodes, yEdges) => {
          for (const change of changes) {
            const id = change.id;
            switch (change.type) {
              case "add":
                if (change.item) yNodes.set(String(change.item.id), entityToY(change.item));
                break;
              case "replace":
                if (change.item && id) yNodes.set(id, entityToY(change.item));
                break;
              case "remove":
                if (!id) break;
                yNodes.delete(id);
                for (const [eid, entry] of yEdges.entries()) {
                  const e = entry instanceof Y.Map ? entry.toJSON() : (entry as Record<string, unknown>);
                  if (e && (e.source === id || e.target === id)) yEdges.delete(eid);
                }
                break;
              case "position":
                // A drag writes once, when it ends; keyboard moves (no `dragging`) at once.
                if (id && change.dragging !== true) {
                  const node = nodes.find((n) => n.id === id);
                  const position = (change.position as { x: number; y: number } | undefined) ?? node?.position;
                  if (position && yNodes.has(id)) setFields(yNodes, id, { position: { x: position.x, y: position.y } });
                }
                break;
              case "dimensions":
                if (id && change.setAttributes && change.resizing !== true && change.dimensions && yNodes.has(id)) {
                  const d = change.dimensions as { width: number; height: number };
                  setFields(yNodes, id, { width: d.width, height: d.height });
                }
                break;
            }
          }
        });
        if (!wrote && !session) {
          const current = get().currentFlow;
          if (current && changes.some((c) => c.type !== "select" && c.type !== "dimensions")) {
            set({ currentFlow: { ...current, nodes: nodes.map((n) => stripLocal(n)) } });
          }
        }
      },

      onEdgesChange(input) {
        const changes = get().readOnly ? input.filter((c) => c.type === "select") : input;
        const edges = applyLocal(get().edges, changes);
        set({ edges });
        transact((_yNodes, yEdges) => {
          for (const change of changes) {
            if (change.type === "add" && change.item) yEdges.set(String(change.item.id), entityToY(change.item));
            else if (change.type === "replace" && change.item && change.id) yEdges.set(change.id, entityToY(change.item));
            else if (change.type === "remove" && change.id) yEdges.delete(change.id);
          }
        });
      },

      onConnect(connection) {
        if (!connection.source || !connection.target || get().readOnly) return;
        const edge: FlowEdge = {
          id: edgeId(connection),
          source: connection.source,
          target: connection.target,
          ...(connection.sourceHandle ? { sourceHandle: connection.sourceHandle } : {}),
          ...(connection.targetHandle ? { targetHandle: connection.targetHandle } : {}),
        };
        if (get().edges.some((e) => e.id === edge.id)) return;
        if (!transact((_n, yEdges) => yEdges.set(edge.id, entityToY(edge)))) {
          set({ edges: [...get().edges, edge] });
        }
      },

      addNode(node) {
        if (!transact((yNodes) => yNodes.set(node.id, entityToY(node)))) {
          set({ nodes: [...get().nodes, node] });
        }
      },

      updateNodeData(id, data) {
        if (!transact((yNodes) => setData(yNodes, id, data))) {
          set({ nodes: get().nodes.map((n) => (n.id === id ? { ...n, data: { ...n.data, ...data } } : n)) });
        }
      },

      setCursor(position) {
        session?.awareness.setLocalStateField("cursor", position);
      },
    };
  });
  return store;
}

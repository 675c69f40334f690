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
import { type StoreApi } from "zustand/vanilla";
import { MinibaseError } from "./errors";
import type { Flow, FlowEdge, FlowNode, FlowSummary } from "./types";
import type { MinibaseClient } from "./minibase";
/** A node as React Flow holds it: the stored fields plus this viewer's own. */
export type CanvasNode = FlowNode & {
    selected?: boolean;
    dragging?: boolean;
    resizing?: boolean;
    measured?: {
        width?: number;
        height?: number;
    };
};
export type CanvasEdge = FlowEdge & {
    selected?: boolean;
};
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
    user: {
        id?: string;
        name?: string;
        color?: string;
    };
    cursor: {
        x: number;
        y: number;
    } | null;
    selection: string[];
}
export type ConnectionStatus = "offline" | "connecting" | "connected";
export interface FlowStoreState {
    selectedNodeId: string | null;
    showHistoryPanel: boolean;
    inspectorLocked: boolean;
    orgId: string | null;
    flows: FlowSummary[];
    currentFlow: Flow | null;
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
    syncToServer(flow?: Partial<Flow> & {
        nodes?: FlowNode[];
        edges?: FlowEdge[];
    }): Promise<Flow>;
    /** Go live on a flow: its Yjs document, presence, and the org's live flow list. Returns the stop function. */
    subscribeToUpdates(flowId: string): () => void;
    /** Create each flow kept in the browser in the org; returns the created flows by local id. */
    importLocalFlows(flows: Array<{
        id?: string;
        name?: string;
        nodes?: FlowNode[];
        edges?: FlowEdge[];
    }>): Promise<Array<{
        localId: string | null;
        flow: Flow;
    }>>;
    onNodesChange(changes: ChangeLike[]): void;
    onEdgesChange(changes: ChangeLike[]): void;
    onConnect(connection: ConnectionLike): void;
    addNode(node: FlowNode): void;
    updateNodeData(id: string, data: Record<string, unknown>): void;
    /** This user's pointer in flow coordinates, shown to the others (null: left the canvas). */
    setCursor(position: {
        x: number;
        y: number;
    } | null): void;
}
export type FlowStore = StoreApi<FlowStoreState>;
export interface FlowStoreOptions {
    orgId?: string;
    /** Presence shown to others: `{name, color, id}`. */
    user?: {
        id?: string;
        name?: string;
        color?: string;
    };
}
export declare function createFlowStore(client: MinibaseClient, options?: FlowStoreOptions): FlowStore;

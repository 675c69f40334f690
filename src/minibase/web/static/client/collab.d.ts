/** Collaborative editing over the stock y-websocket provider, with presence (awareness). */
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import type { Awareness } from "y-protocols/awareness";
export interface CollabSession {
    doc: Y.Doc;
    provider: WebsocketProvider;
    awareness: Awareness;
    /** Resolves once the document holds the server's state (sync step 2 received). */
    synced: Promise<void>;
    /** Disconnect and free the document. */
    destroy(): void;
}
export interface CollabOptions {
    /** `ws://host` or `wss://host` of the server. */
    wsUrl: string;
    token: string | null;
    /**
     * A fresh single-use socket ticket for each connection (null: the server has none, use
     * the token). With it, no long-lived secret is ever in a socket URL.
     */
    ticket?: () => Promise<string | null>;
    /** The server refused the socket for good (4401 token revoked, 4403, 4404). */
    onRefused?: (code: number) => void;
    /** Local presence, e.g. `{user: {name, color}}`; set on the awareness at once. */
    presence?: Record<string, unknown>;
    WebSocketPolyfill?: typeof WebSocket;
}
export declare function openCollab(orgId: string, flowId: string, options: CollabOptions): CollabSession;

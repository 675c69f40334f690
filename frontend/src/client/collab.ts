/** Collaborative editing over the stock y-websocket provider, with presence (awareness). */

import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";
import type { Awareness } from "y-protocols/awareness";
import { MinibaseError } from "./errors";
import { backoff } from "./rest";

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

/** Close codes after which connecting again cannot help. */
const FINAL = new Set([4403, 4404]);

export function openCollab(orgId: string, flowId: string, options: CollabOptions): CollabSession {
  const doc = new Y.Doc();
  const tickets = options.ticket;
  const provider = new WebsocketProvider(`${options.wsUrl}/v1/collab/${orgId}`, flowId, doc, {
    params: !tickets && options.token ? { token: options.token } : {},
    // Each tab talks to the server, never to its sibling tabs: a viewer's tab must not
    // take an editor's edits that the server has not accepted.
    disableBc: true,
    // With tickets, every connection needs a new one: this module reconnects itself.
    connect: !tickets,
    ...(tickets ? { shouldReconnect: () => false } : {}),
    ...(options.WebSocketPolyfill ? { WebSocketPolyfill: options.WebSocketPolyfill } : {}),
  });
  let destroyed = false;
  if (tickets) {
    let attempt = 0;
    let usingToken = false;
    const open = async (): Promise<void> => {
      if (destroyed) return;
      let ticket: string | null;
      try {
        ticket = await tickets();
      } catch (err) {
        if (err instanceof MinibaseError && err.status === 401) {
          options.onRefused?.(4401);
          return;
        }
        setTimeout(() => void open(), backoff(attempt++, 250, 5_000));
        return;
      }
      if (destroyed) return;
      usingToken = ticket === null;
      provider.params = ticket !== null ? { ticket } : options.token ? { token: options.token } : {};
      provider.connect();
    };
    provider.on("closed", ({ code }) => {
      if (destroyed) return;
      // A ticket is spent by its connection (a 4401 then only says so); a token that
      // was refused is refused for good, as is a forbidden or missing flow.
      if (FINAL.has(code) || (usingToken && code === 4401)) {
        options.onRefused?.(code);
        return;
      }
      setTimeout(() => void open(), backoff(attempt++, 250, 5_000));
    });
    provider.on("sync", (isSynced: boolean) => {
      if (isSynced) attempt = 0;
    });
    void open();
  } else {
    provider.on("closed", ({ code }) => options.onRefused?.(code));
  }
  if (options.presence) {
    for (const [key, value] of Object.entries(options.presence)) {
      provider.awareness.setLocalStateField(key, value);
    }
  }
  const synced = new Promise<void>((resolve) => {
    if (provider.synced) resolve();
    else {
      const onSync = (isSynced: boolean) => {
        if (!isSynced) return;
        provider.off("sync", onSync);
        resolve();
      };
      provider.on("sync", onSync);
    }
  });
  return {
    doc,
    provider,
    awareness: provider.awareness,
    synced,
    destroy() {
      destroyed = true;
      provider.awareness.setLocalState(null);
      provider.destroy();
      doc.destroy();
    },
  };
}

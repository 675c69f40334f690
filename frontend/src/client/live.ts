/** Live queries over `WS /v1/sync`: reconnect with jittered backoff, resubscribe, latest value. */

import { MinibaseError } from "./errors";
import { backoff } from "./rest";

export type LiveStatus = "connecting" | "open" | "closed";

export interface LiveQueryHandle {
  /** Stop receiving values (the subscription is dropped on the server too). */
  unsubscribe(): void;
}

interface Subscription {
  id: string;
  query: string;
  args: Record<string, unknown>;
  onValue: (value: unknown, version: unknown) => void;
  onError?: (error: MinibaseError) => void;
}

export interface LiveOptions {
  /** Builds the socket URL for each connection attempt (a fresh ticket each time). */
  socketUrl: () => Promise<string>;
  onStatus?: (status: LiveStatus) => void;
  /** Called when the server closes with 4401 (token revoked or expired): no reconnect. */
  onUnauthenticated?: () => void;
  WebSocket?: typeof WebSocket;
}

/** One socket for every live query of a client; opened on the first subscription. */
export class LiveQueries {
  private readonly subs = new Map<string, Subscription>();
  private socket: WebSocket | null = null;
  private attempt = 0;
  private counter = 0;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private pinger: ReturnType<typeof setInterval> | null = null;
  private stopped = false;
  status: LiveStatus = "closed";

  constructor(private readonly options: LiveOptions) {}

  subscribe(
    query: string,
    args: Record<string, unknown>,
    onValue: (value: unknown, version: unknown) => void,
    onError?: (error: MinibaseError) => void,
  ): LiveQueryHandle {
    const id = `q${++this.counter}`;
    const sub: Subscription = { id, query, args, onValue, onError };
    this.subs.set(id, sub);
    this.stopped = false;
    if (this.socket?.readyState === 1) this.send({ type: "subscribe", id, query, args });
    else this.connect();
    return {
      unsubscribe: () => {
        if (!this.subs.delete(id)) return;
        if (this.socket?.readyState === 1) this.send({ type: "unsubscribe", id });
        if (this.subs.size === 0) this.close();
      },
    };
  }

  /** Close the socket and forget every subscription. */
  close(): void {
    this.stopped = true;
    this.subs.clear();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.stopPinger();
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000);
    this.setStatus("closed");
  }

  /** Drop the current socket and connect again at once (e.g. after the token changed). */
  reconnect(): void {
    const socket = this.socket;
    this.socket = null;
    socket?.close(1000);
    this.attempt = 0;
    this.connect();
  }

  private setStatus(status: LiveStatus): void {
    if (this.status === status) return;
    this.status = status;
    this.options.onStatus?.(status);
  }

  private send(message: unknown): void {
    this.socket?.send(JSON.stringify(message));
  }

  private stopPinger(): void {
    if (this.pinger) clearInterval(this.pinger);
    this.pinger = null;
  }

  private connect(): void {
    if (this.stopped || this.socket || this.timer) return;
    this.setStatus("connecting");
    const Impl = this.options.WebSocket ?? WebSocket;
    this.options
      .socketUrl()
      .then((url) => {
        if (this.stopped || this.socket) return;
        const socket = new Impl(url);
        this.socket = socket;
        socket.onopen = () => {
          this.attempt = 0;
          this.setStatus("open");
          // Every subscription again: the server answers each with its current value.
          for (const sub of this.subs.values()) {
            this.send({ type: "subscribe", id: sub.id, query: sub.query, args: sub.args });
          }
          this.stopPinger();
          this.pinger = setInterval(() => this.send({ type: "ping" }), 25_000);
        };
        socket.onmessage = (event) => this.onMessage(String(event.data));
        socket.onclose = (event) => {
          if (this.socket !== socket) return;
          this.socket = null;
          this.stopPinger();
          if (event.code === 4401) {
            this.stopped = true;
            this.setStatus("closed");
            this.options.onUnauthenticated?.();
            return;
          }
          this.scheduleReconnect();
        };
      })
      .catch(() => this.scheduleReconnect());
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.subs.size === 0) {
      this.setStatus("closed");
      return;
    }
    this.setStatus("connecting");
    const wait = backoff(this.attempt++, 250, 5_000);
    this.timer = setTimeout(() => {
      this.timer = null;
      this.connect();
    }, wait);
  }

  private onMessage(text: string): void {
    let message: { type?: string; id?: string; value?: unknown; version?: unknown; error?: { code: string; message: string; details?: Record<string, unknown> } };
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    const sub = message.id ? this.subs.get(message.id) : undefined;
    if (!sub) return;
    if (message.type === "result") sub.onValue(message.value, message.version);
    else if (message.type === "error" && message.error) {
      sub.onError?.(new MinibaseError(0, message.error.code, message.error.message, message.error.details ?? {}));
    }
  }
}

/** REST: one `request` that knows the contract (errors, idempotent retries, rate limits). */

import { MinibaseError, errorFromBody } from "./errors";

export type Query = Record<string, string | number | boolean | null | undefined>;

export interface RequestOptions {
  query?: Query;
  body?: unknown;
  /** Raw body (a Blob, ArrayBuffer...) sent as is, e.g. an org archive. */
  rawBody?: BodyInit;
  contentType?: string;
  /** An `Idempotency-Key`; writes get a fresh one when none is given. */
  idempotencyKey?: string;
  headers?: Record<string, string>;
  /** Resolve with the Response itself (for downloads) instead of its JSON. */
  raw?: boolean;
  signal?: AbortSignal;
}

export interface TransportOptions {
  /** Base URL of the server, e.g. `http://127.0.0.1:8000` (default: this page's origin). */
  url: string;
  /** A session token or an API key. */
  token?: string | null;
  /** How often a write that got no answer (or a 502/503/504) is sent again. Default 3. */
  retries?: number;
  /** Called with `X-Quota-Warning` headers of write responses. */
  onQuotaWarning?: (warning: string) => void;
  fetch?: typeof fetch;
}

const WRITES = new Set(["POST", "PUT", "PATCH", "DELETE"]);
const RETRYABLE = new Set([502, 503, 504]);

function newKey(): string {
  const c = globalThis.crypto;
  if (c && "randomUUID" in c) return c.randomUUID();
  return `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
}

export function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener("abort", () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });
}

/** Full jitter backoff: a random wait up to `base * 2^attempt`, capped. */
export function backoff(attempt: number, base = 250, cap = 10_000): number {
  return Math.random() * Math.min(cap, base * 2 ** attempt);
}

export class Transport {
  url: string;
  token: string | null;
  readonly retries: number;
  private readonly onQuotaWarning?: (warning: string) => void;
  private readonly fetchImpl: typeof fetch;

  constructor(options: TransportOptions) {
    const origin = typeof location !== "undefined" ? location.origin : "http://127.0.0.1:8000";
    this.url = (options.url || origin).replace(/\/+$/, "");
    this.token = options.token ?? null;
    this.retries = options.retries ?? 3;
    this.onQuotaWarning = options.onQuotaWarning;
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
  }

  href(path: string, query?: Query): string {
    const url = new URL(this.url + path);
    for (const [k, v] of Object.entries(query ?? {})) {
      if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, String(v));
    }
    return url.toString();
  }

  /** Send one call. Writes carry an `Idempotency-Key`, so a retry never applies twice. */
  async request<T>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const write = WRITES.has(method);
    const headers: Record<string, string> = { Accept: "application/json", ...options.headers };
    if (this.token) headers.Authorization = `Bearer ${this.token}`;
    let body: BodyInit | undefined;
    if (options.rawBody !== undefined) {
      body = options.rawBody;
      headers["Content-Type"] = options.contentType ?? "application/octet-stream";
    } else if (options.body !== undefined) {
      body = JSON.stringify(options.body);
      headers["Content-Type"] = "application/json";
    }
    if (write) headers["Idempotency-Key"] = options.idempotencyKey ?? newKey();
    const url = this.href(path, options.query);
    for (let attempt = 0; ; attempt++) {
      let response: Response;
      try {
        response = await this.fetchImpl(url, { method, headers, body, signal: options.signal });
      } catch (err) {
        if (options.signal?.aborted) throw err;
        // No answer: the request may or may not have been applied. Reads and keyed
        // writes are safe to send again.
        if (attempt < this.retries) {
          await delay(backoff(attempt), options.signal);
          continue;
        }
        throw new MinibaseError(0, "network_error", "The server could not be reached.", {
          cause: String(err),
        });
      }
      if (response.status === 429 && attempt < this.retries) {
        const after = Number(response.headers.get("Retry-After") ?? "1");
        await delay(Math.min(30, Number.isFinite(after) ? after : 1) * 1000, options.signal);
        continue;
      }
      if (RETRYABLE.has(response.status) && attempt < this.retries) {
        await delay(backoff(attempt), options.signal);
        continue;
      }
      const warning = response.headers.get("X-Quota-Warning");
      if (warning && this.onQuotaWarning) this.onQuotaWarning(warning);
      if (!response.ok) {
        let parsed: unknown = null;
        try {
          parsed = await response.json();
        } catch {
          parsed = null;
        }
        throw errorFromBody(response.status, parsed);
      }
      if (options.raw) return response as unknown as T;
      if (response.status === 204) return undefined as T;
      const text = await response.text();
      return (text ? JSON.parse(text) : undefined) as T;
    }
  }
}

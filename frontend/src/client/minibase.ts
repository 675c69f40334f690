/**
 * Minibase's browser client: `createClient({url, token})`.
 *
 * - a method for every REST endpoint, grouped by resource (`client.flows.save(...)`),
 *   rejecting with one typed {@link MinibaseError}; writes carry an `Idempotency-Key`
 *   and are retried safely when no answer came;
 * - `subscribe(query, args, onValue)`: live queries that reconnect (backoff with jitter)
 *   and resubscribe by themselves, always delivering the latest value;
 * - `collab(orgId, flowId)`: the flow's Yjs document over the stock y-websocket provider;
 * - `createFlowStore(client)`: the editor's Zustand store (see flowStore.ts).
 */

import { openCollab, type CollabSession } from "./collab";
import { MinibaseError } from "./errors";
import { LiveQueries, type LiveQueryHandle, type LiveStatus } from "./live";
import { Transport, type Query, type RequestOptions } from "./rest";
import type {
  ApiKey,
  AuditEvent,
  AuditVerify,
  EventDelivery,
  EventWebhook,
  Flow,
  FlowEdge,
  FlowNode,
  FlowOp,
  FlowSummary,
  Invitation,
  Me,
  Member,
  NodeOutput,
  Organization,
  Page,
  Role,
  Run,
  Schedule,
  Session,
  Usage,
  VersionSummary,
  Webhook,
} from "./types";

export { MinibaseError } from "./errors";
export type { ErrorCode } from "./errors";
export { createFlowStore } from "./flowStore";
export type {
  CanvasEdge,
  CanvasNode,
  ChangeLike,
  ConnectionLike,
  ConnectionStatus,
  FlowStore,
  FlowStoreOptions,
  FlowStoreState,
  Peer,
} from "./flowStore";
export { VIEW_FIELDS, stripLocal } from "./viewFields";
export type { CollabSession } from "./collab";
export type { LiveQueryHandle, LiveStatus } from "./live";
export type { Query, RequestOptions } from "./rest";
export * from "./types";

export interface ClientOptions {
  /** The server, e.g. `http://127.0.0.1:8000`; default: the page's own origin. */
  url?: string;
  /** A session token (from login or signup) or an API key. */
  token?: string | null;
  /** Default organization for `createFlowStore`. */
  orgId?: string;
  /** How often a write without an answer is retried (same Idempotency-Key). Default 3. */
  retries?: number;
  onQuotaWarning?: (warning: string) => void;
  /** Called when the server says the token no longer works (401 or socket close 4401). */
  onUnauthenticated?: () => void;
  onLiveStatus?: (status: LiveStatus) => void;
}

type Paging = { limit?: number; cursor?: string | null };
type Opts = Pick<RequestOptions, "idempotencyKey" | "signal">;

const enc = encodeURIComponent;

export function createClient(options: ClientOptions = {}): MinibaseClient {
  return new MinibaseClient(options);
}

export class MinibaseClient {
  readonly transport: Transport;
  orgId: string | undefined;
  private readonly live: LiveQueries;
  private readonly onUnauthenticated?: () => void;
  private ticketsUnsupported = false;

  constructor(options: ClientOptions = {}) {
    this.transport = new Transport({
      url: options.url ?? "",
      token: options.token ?? null,
      retries: options.retries,
      onQuotaWarning: options.onQuotaWarning,
    });
    this.orgId = options.orgId;
    this.onUnauthenticated = options.onUnauthenticated;
    this.live = new LiveQueries({
      socketUrl: () => this.socketUrl("/v1/sync"),
      onStatus: options.onLiveStatus,
      onUnauthenticated: options.onUnauthenticated,
    });
  }

  get url(): string {
    return this.transport.url;
  }

  get token(): string | null {
    return this.transport.token;
  }

  /** Use another token from now on (live queries reconnect with it). */
  setToken(token: string | null): void {
    this.transport.token = token;
    if (this.live.status !== "closed") this.live.reconnect();
  }

  /** `ws://` or `wss://` form of the server URL. */
  get wsUrl(): string {
    return this.transport.url.replace(/^http/, "ws");
  }

  /** Any call: `request("GET", "/v1/me")`. Rejects with {@link MinibaseError}. */
  async request<T = unknown>(method: string, path: string, options?: RequestOptions): Promise<T> {
    try {
      return await this.transport.request<T>(method, path, options);
    } catch (err) {
      if (err instanceof MinibaseError && err.status === 401 && this.transport.token) this.onUnauthenticated?.();
      throw err;
    }
  }

  private get<T>(path: string, query?: Query, opts?: Opts): Promise<T> {
    return this.request<T>("GET", path, { query, ...opts });
  }
  private post<T>(path: string, body?: unknown, opts?: Opts & { query?: Query }): Promise<T> {
    return this.request<T>("POST", path, { body: body ?? {}, ...opts });
  }
  private put<T>(path: string, body: unknown, opts?: Opts): Promise<T> {
    return this.request<T>("PUT", path, { body, ...opts });
  }
  private patch<T>(path: string, body: unknown, opts?: Opts): Promise<T> {
    return this.request<T>("PATCH", path, { body, ...opts });
  }
  private del(path: string, opts?: Opts): Promise<void> {
    return this.request<void>("DELETE", path, opts);
  }

  /**
   * A socket URL for `path`: with a single-use `?ticket=` where the server issues
   * socket tickets, else with `?token=`.
   */
  async socketUrl(path: string): Promise<string> {
    const url = new URL(this.wsUrl + path);
    const ticket = await this.socketTicket();
    if (ticket !== null) url.searchParams.set("ticket", ticket);
    else if (this.transport.token) url.searchParams.set("token", this.transport.token);
    return url.toString();
  }

  /** A single-use socket ticket (30 s), or null where the server issues none. */
  async socketTicket(): Promise<string | null> {
    if (!this.transport.token || this.ticketsUnsupported) return null;
    try {
      const { ticket } = await this.transport.request<{ ticket: string }>("POST", "/v1/socket-tickets", { body: {} });
      return ticket;
    } catch (err) {
      if (!(err instanceof MinibaseError) || (err.status !== 404 && err.status !== 405)) throw err;
      this.ticketsUnsupported = true;
      return null;
    }
  }

  /** A live query: `onValue` gets the current value at once, then every change. */
  subscribe<T = unknown>(
    query: string,
    args: Record<string, unknown>,
    onValue: (value: T, version: unknown) => void,
    onError?: (error: MinibaseError) => void,
  ): LiveQueryHandle {
    return this.live.subscribe(query, args, onValue as (value: unknown, version: unknown) => void, onError);
  }

  /** The flow's Yjs document over y-websocket: `{doc, provider, awareness, synced, destroy}`. */
  collab(orgId: string, flowId: string, options: { presence?: Record<string, unknown> } = {}): CollabSession {
    return openCollab(orgId, flowId, {
      wsUrl: this.wsUrl,
      token: this.transport.token,
      ticket: () => this.socketTicket(),
      presence: options.presence,
      onRefused: (code) => {
        if (code === 4401) this.onUnauthenticated?.();
      },
    });
  }

  /** Close the live-query socket. */
  close(): void {
    this.live.close();
  }

  readonly auth = {
    signup: async (body: { email: string; password: string; name?: string }): Promise<Session> => {
      const session = await this.post<Session>("/v1/auth/signup", body);
      this.setToken(session.token);
      return session;
    },
    login: async (body: { email: string; password: string }): Promise<Session> => {
      const session = await this.post<Session>("/v1/auth/login", body);
      this.setToken(session.token);
      return session;
    },
    logout: async (): Promise<void> => {
      await this.post<void>("/v1/auth/logout");
      this.live.close();
      this.transport.token = null;
    },
    changePassword: (body: { currentPassword: string; newPassword: string }) =>
      this.post<unknown>("/v1/auth/password", body),
    socketTicket: () => this.post<{ ticket: string; expiresAt: number }>("/v1/socket-tickets"),
  };

  readonly me = {
    get: () => this.get<Me>("/v1/me"),
    update: (body: Record<string, unknown>) => this.patch<unknown>("/v1/me", body),
    export: () => this.get<unknown>("/v1/me/export"),
    delete: () => this.del("/v1/me"),
  };

  readonly orgs = {
    list: (page: Paging = {}) => this.get<Page<Organization>>("/v1/orgs", page),
    create: (body: { name: string; plan?: string }, opts?: Opts) => this.post<Organization>("/v1/orgs", body, opts),
    get: (orgId: string) => this.get<Organization>(`/v1/orgs/${enc(orgId)}`),
    update: (orgId: string, body: { name?: string; settings?: Record<string, unknown> }) =>
      this.patch<Organization>(`/v1/orgs/${enc(orgId)}`, body),
    delete: (orgId: string) => this.del(`/v1/orgs/${enc(orgId)}`),
    usage: (orgId: string) => this.get<Usage>(`/v1/orgs/${enc(orgId)}/usage`),
    analytics: (orgId: string, query: { from?: number; to?: number; flowId?: string } = {}) =>
      this.get<unknown>(`/v1/orgs/${enc(orgId)}/analytics`, query),
    billingUsage: (orgId: string, month?: string) => this.get<unknown>(`/v1/orgs/${enc(orgId)}/billing/usage`, { month }),
    export: (orgId: string, body: { passphrase?: string } = {}) =>
      this.request<Response>("POST", `/v1/orgs/${enc(orgId)}/export`, { body, raw: true }),
    exportFormat: (orgId: string, format: "json" | "csv" | "xml") =>
      this.request<Response>("GET", `/v1/orgs/${enc(orgId)}/export`, { query: { format }, raw: true }),
    import: (archive: Blob | ArrayBuffer, ids: "keep" | "new" = "new") =>
      this.request<Organization>("POST", "/v1/orgs/import", { rawBody: archive, contentType: "application/zip", query: { ids } }),
  };

  readonly members = {
    list: (orgId: string, page: Paging = {}) => this.get<Page<Member>>(`/v1/orgs/${enc(orgId)}/members`, page),
    setRole: (orgId: string, userId: string, role: Role) =>
      this.patch<Member>(`/v1/orgs/${enc(orgId)}/members/${enc(userId)}`, { role }),
    remove: (orgId: string, userId: string) => this.del(`/v1/orgs/${enc(orgId)}/members/${enc(userId)}`),
  };

  readonly invitations = {
    create: (orgId: string, body: { email: string; role: Role }) =>
      this.post<Invitation & { token: string }>(`/v1/orgs/${enc(orgId)}/invitations`, body),
    list: (orgId: string, page: Paging = {}) => this.get<Page<Invitation>>(`/v1/orgs/${enc(orgId)}/invitations`, page),
    revoke: (orgId: string, invitationId: string) => this.del(`/v1/orgs/${enc(orgId)}/invitations/${enc(invitationId)}`),
    accept: (token: string) => this.post<{ organization: { id: string; name: string }; role: Role }>("/v1/invitations/accept", { token }),
  };

  readonly apiKeys = {
    create: (orgId: string, body: { name: string; role: Role }) =>
      this.post<ApiKey & { key: string }>(`/v1/orgs/${enc(orgId)}/api-keys`, body),
    list: (orgId: string, page: Paging = {}) => this.get<Page<ApiKey>>(`/v1/orgs/${enc(orgId)}/api-keys`, page),
    revoke: (orgId: string, keyId: string) => this.del(`/v1/orgs/${enc(orgId)}/api-keys/${enc(keyId)}`),
  };

  readonly flows = {
    list: (orgId: string, query: Paging & { deleted?: boolean } = {}) =>
      this.get<Page<FlowSummary>>(`/v1/orgs/${enc(orgId)}/flows`, query),
    create: (orgId: string, body: { name: string; nodes?: FlowNode[]; edges?: FlowEdge[] }, opts?: Opts) =>
      this.post<Flow>(`/v1/orgs/${enc(orgId)}/flows`, body, opts),
    get: (orgId: string, flowId: string) => this.get<Flow>(`/v1/orgs/${enc(orgId)}/flows/${enc(flowId)}`),
    save: (
      orgId: string,
      flowId: string,
      body: { name?: string; nodes: FlowNode[]; edges: FlowEdge[]; baseVersion: number },
      opts?: Opts,
    ) => this.put<Flow>(`/v1/orgs/${enc(orgId)}/flows/${enc(flowId)}`, body, opts),
    patch: (orgId: string, flowId: string, ops: FlowOp[], opts?: Opts) =>
      this.patch<Flow>(`/v1/orgs/${enc(orgId)}/flows/${enc(flowId)}`, { ops }, opts),
    rename: (orgId: string, flowId: string, name: string) =>
      this.patch<Flow>(`/v1/orgs/${enc(orgId)}/flows/${enc(flowId)}`, { ops: [{ op: "rename", name }] }),
    delete: (orgId: string, flowId: string) => this.del(`/v1/orgs/${enc(orgId)}/flows/${enc(flowId)}`),
    /** Bring a flow back from the trash. */
    restore: (orgId: string, flowId: string) => this.post<Flow>(`/v1/orgs/${enc(orgId)}/flows/${enc(flowId)}/restore`),
    copy: (orgId: string, flowId: string, body: { targetOrgId: string; name?: string }) =>
      this.post<Flow>(`/v1/orgs/${enc(orgId)}/flows/${enc(flowId)}/copy`, body),
    exportFormat: (orgId: string, flowId: string, format: "json" | "csv" | "xml") =>
      this.request<Response>("GET", `/v1/orgs/${enc(orgId)}/flows/${enc(flowId)}/export`, { query: { format }, raw: true }),
  };

  readonly versions = {
    list: (orgId: string, flowId: string, page: Paging = {}) =>
      this.get<Page<VersionSummary>>(`/v1/orgs/${enc(orgId)}/flows/${enc(flowId)}/versions`, page),
    get: (orgId: string, flowId: string, version: number) =>
      this.get<Flow>(`/v1/orgs/${enc(orgId)}/flows/${enc(flowId)}/versions/${version}`),
    diff: (orgId: string, flowId: string, from: number, to: number) =>
      this.get<Record<string, unknown>>(`/v1/orgs/${enc(orgId)}/flows/${enc(flowId)}/versions/${from}/diff/${to}`),
    restore: (orgId: string, flowId: string, version: number) =>
      this.post<Flow>(`/v1/orgs/${enc(orgId)}/flows/${enc(flowId)}/versions/${version}/restore`),
  };

  readonly outputs = {
    write: (orgId: string, flowId: string, body: { nodeId: string; output: unknown; computeTime: number }) =>
      this.post<NodeOutput>(`/v1/orgs/${enc(orgId)}/flows/${enc(flowId)}/outputs`, body),
    list: (orgId: string, flowId: string, query: Paging & { nodeId?: string; latest?: boolean } = {}) =>
      this.get<Page<NodeOutput>>(`/v1/orgs/${enc(orgId)}/flows/${enc(flowId)}/outputs`, query),
  };

  readonly audit = {
    list: (orgId: string, query: Paging & { action?: string; actor?: string; resource?: string; from?: number; to?: number } = {}) =>
      this.get<Page<AuditEvent>>(`/v1/orgs/${enc(orgId)}/audit`, query),
    verify: (orgId: string) => this.get<AuditVerify>(`/v1/orgs/${enc(orgId)}/audit/verify`),
  };

  readonly nodeTypes = {
    list: (orgId?: string) => this.get<Page<Record<string, unknown>>>("/v1/node-types", { orgId }),
  };

  readonly runs = {
    start: (orgId: string, flowId: string, body: { inputs?: unknown; nodes?: string[]; version?: number; force?: boolean } = {}) =>
      this.post<Run>(`/v1/orgs/${enc(orgId)}/flows/${enc(flowId)}/runs`, body),
    list: (orgId: string, query: Paging & { flowId?: string; status?: string } = {}) =>
      this.get<Page<Run>>(`/v1/orgs/${enc(orgId)}/runs`, query),
    get: (orgId: string, runId: string) => this.get<Run>(`/v1/orgs/${enc(orgId)}/runs/${enc(runId)}`),
    cancel: (orgId: string, runId: string) => this.post<Run>(`/v1/orgs/${enc(orgId)}/runs/${enc(runId)}/cancel`),
  };

  readonly schedules = {
    create: (orgId: string, flowId: string, body: { cron: string; timezone?: string; inputs?: unknown; enabled?: boolean }) =>
      this.post<Schedule>(`/v1/orgs/${enc(orgId)}/flows/${enc(flowId)}/schedules`, body),
    list: (orgId: string, flowId: string) => this.get<Page<Schedule>>(`/v1/orgs/${enc(orgId)}/flows/${enc(flowId)}/schedules`),
    update: (orgId: string, flowId: string, scheduleId: string, body: Partial<Pick<Schedule, "cron" | "timezone" | "inputs" | "enabled">>) =>
      this.patch<Schedule>(`/v1/orgs/${enc(orgId)}/flows/${enc(flowId)}/schedules/${enc(scheduleId)}`, body),
    delete: (orgId: string, flowId: string, scheduleId: string) =>
      this.del(`/v1/orgs/${enc(orgId)}/flows/${enc(flowId)}/schedules/${enc(scheduleId)}`),
  };

  readonly webhooks = {
    create: (orgId: string, flowId: string, body: { name?: string } = {}) =>
      this.post<Webhook & { secret: string }>(`/v1/orgs/${enc(orgId)}/flows/${enc(flowId)}/webhooks`, body),
    list: (orgId: string, flowId: string, page: Paging = {}) =>
      this.get<Page<Webhook>>(`/v1/orgs/${enc(orgId)}/flows/${enc(flowId)}/webhooks`, page),
    delete: (orgId: string, flowId: string, webhookId: string) =>
      this.del(`/v1/orgs/${enc(orgId)}/flows/${enc(flowId)}/webhooks/${enc(webhookId)}`),
    rotateSecret: (orgId: string, flowId: string, webhookId: string) =>
      this.post<Webhook & { secret: string }>(`/v1/orgs/${enc(orgId)}/flows/${enc(flowId)}/webhooks/${enc(webhookId)}/rotate-secret`),
  };

  readonly eventWebhooks = {
    create: (orgId: string, body: { url: string; events: string[] }) =>
      this.post<EventWebhook & { secret: string }>(`/v1/orgs/${enc(orgId)}/event-webhooks`, body),
    list: (orgId: string, page: Paging = {}) => this.get<Page<EventWebhook>>(`/v1/orgs/${enc(orgId)}/event-webhooks`, page),
    delete: (orgId: string, id: string) => this.del(`/v1/orgs/${enc(orgId)}/event-webhooks/${enc(id)}`),
    /** Newest first: status, attempts, the receiver's answer, the next attempt. */
    deliveries: (orgId: string, id: string, page: Paging = {}) =>
      this.get<Page<EventDelivery>>(`/v1/orgs/${enc(orgId)}/event-webhooks/${enc(id)}/deliveries`, page),
  };

  readonly admin = {
    orgs: (page: Paging = {}) => this.get<Page<Organization>>("/v1/admin/orgs", page),
    setPlan: (orgId: string, plan: string) => this.patch<Organization>(`/v1/admin/orgs/${enc(orgId)}`, { plan }),
    backups: (page: Paging = {}) => this.get<Page<Record<string, unknown>>>("/v1/admin/backups", page),
  };

  readonly health = {
    live: () => this.get<{ status: string }>("/healthz"),
    ready: () => this.get<Record<string, unknown>>("/readyz"),
  };
}

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
import { type CollabSession } from "./collab";
import { MinibaseError } from "./errors";
import { type LiveQueryHandle, type LiveStatus } from "./live";
import { Transport, type RequestOptions } from "./rest";
import type { ApiKey, AuditEvent, AuditVerify, EventDelivery, EventWebhook, Flow, FlowEdge, FlowNode, FlowOp, FlowSummary, Invitation, Me, Member, NodeOutput, Organization, Page, Role, Run, Schedule, Session, Usage, VersionSummary, Webhook } from "./types";
export { MinibaseError } from "./errors";
export type { ErrorCode } from "./errors";
export { createFlowStore } from "./flowStore";
export type { CanvasEdge, CanvasNode, ChangeLike, ConnectionLike, ConnectionStatus, FlowStore, FlowStoreOptions, FlowStoreState, Peer, } from "./flowStore";
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
type Paging = {
    limit?: number;
    cursor?: string | null;
};
type Opts = Pick<RequestOptions, "idempotencyKey" | "signal">;
export declare function createClient(options?: ClientOptions): MinibaseClient;
export declare class MinibaseClient {
    readonly transport: Transport;
    orgId: string | undefined;
    private readonly live;
    private readonly onUnauthenticated?;
    private ticketsUnsupported;
    constructor(options?: ClientOptions);
    get url(): string;
    get token(): string | null;
    /** Use another token from now on (live queries reconnect with it). */
    setToken(token: string | null): void;
    /** `ws://` or `wss://` form of the server URL. */
    get wsUrl(): string;
    /** Any call: `request("GET", "/v1/me")`. Rejects with {@link MinibaseError}. */
    request<T = unknown>(method: string, path: string, options?: RequestOptions): Promise<T>;
    private get;
    private post;
    private put;
    private patch;
    private del;
    /**
     * A socket URL for `path`: with a single-use `?ticket=` where the server issues
     * socket tickets, else with `?token=`.
     */
    socketUrl(path: string): Promise<string>;
    /** A single-use socket ticket (30 s), or null where the server issues none. */
    socketTicket(): Promise<string | null>;
    /** A live query: `onValue` gets the current value at once, then every change. */
    subscribe<T = unknown>(query: string, args: Record<string, unknown>, onValue: (value: T, version: unknown) => void, onError?: (error: MinibaseError) => void): LiveQueryHandle;
    /** The flow's Yjs document over y-websocket: `{doc, provider, awareness, synced, destroy}`. */
    collab(orgId: string, flowId: string, options?: {
        presence?: Record<string, unknown>;
    }): CollabSession;
    /** Close the live-query socket. */
    close(): void;
    readonly auth: {
        signup: (body: {
            email: string;
            password: string;
            name?: string;
        }) => Promise<Session>;
        login: (body: {
            email: string;
            password: string;
        }) => Promise<Session>;
        logout: () => Promise<void>;
        changePassword: (body: {
            currentPassword: string;
            newPassword: string;
        }) => Promise<unknown>;
        socketTicket: () => Promise<{
            ticket: string;
            expiresAt: number;
        }>;
    };
    readonly me: {
        get: () => Promise<Me>;
        update: (body: Record<string, unknown>) => Promise<unknown>;
        export: () => Promise<unknown>;
        delete: () => Promise<void>;
    };
    readonly orgs: {
        list: (page?: Paging) => Promise<Page<Organization>>;
        create: (body: {
            name: string;
            plan?: string;
        }, opts?: Opts) => Promise<Organization>;
        get: (orgId: string) => Promise<Organization>;
        update: (orgId: string, body: {
            name?: string;
            settings?: Record<string, unknown>;
        }) => Promise<Organization>;
        delete: (orgId: string) => Promise<void>;
        usage: (orgId: string) => Promise<Usage>;
        analytics: (orgId: string, query?: {
            from?: number;
            to?: number;
            flowId?: string;
        }) => Promise<unknown>;
        billingUsage: (orgId: string, month?: string) => Promise<unknown>;
        export: (orgId: string, body?: {
            passphrase?: string;
        }) => Promise<Response>;
        exportFormat: (orgId: string, format: "json" | "csv" | "xml") => Promise<Response>;
        import: (archive: Blob | ArrayBuffer, ids?: "keep" | "new") => Promise<Organization>;
    };
    readonly members: {
        list: (orgId: string, page?: Paging) => Promise<Page<Member>>;
        setRole: (orgId: string, userId: string, role: Role) => Promise<Member>;
        remove: (orgId: string, userId: string) => Promise<void>;
    };
    readonly invitations: {
        create: (orgId: string, body: {
            email: string;
            role: Role;
        }) => Promise<Invitation & {
            token: string;
        }>;
        list: (orgId: string, page?: Paging) => Promise<Page<Invitation>>;
        revoke: (orgId: string, invitationId: string) => Promise<void>;
        accept: (token: string) => Promise<{
            organization: {
                id: string;
                name: string;
            };
            role: Role;
        }>;
    };
    readonly apiKeys: {
        create: (orgId: string, body: {
            name: string;
            role: Role;
        }) => Promise<ApiKey & {
            key: string;
        }>;
        list: (orgId: string, page?: Paging) => Promise<Page<ApiKey>>;
        revoke: (orgId: string, keyId: string) => Promise<void>;
    };
    readonly flows: {
        list: (orgId: string, query?: Paging & {
            deleted?: boolean;
        }) => Promise<Page<FlowSummary>>;
        create: (orgId: string, body: {
            name: string;
            nodes?: FlowNode[];
            edges?: FlowEdge[];
        }, opts?: Opts) => Promise<Flow>;
        get: (orgId: string, flowId: string) => Promise<Flow>;
        save: (orgId: string, flowId: string, body: {
            name?: string;
            nodes: FlowNode[];
            edges: FlowEdge[];
            baseVersion: number;
        }, opts?: Opts) => Promise<Flow>;
        patch: (orgId: string, flowId: string, ops: FlowOp[], opts?: Opts) => Promise<Flow>;
        rename: (orgId: string, flowId: string, name: string) => Promise<Flow>;
        delete: (orgId: string, flowId: string) => Promise<void>;
        /** Bring a flow back from the trash. */
        restore: (orgId: string, flowId: string) => Promise<Flow>;
        copy: (orgId: string, flowId: string, body: {
            targetOrgId: string;
            name?: string;
        }) => Promise<Flow>;
        exportFormat: (orgId: string, flowId: string, format: "json" | "csv" | "xml") => Promise<Response>;
    };
    readonly versions: {
        list: (orgId: string, flowId: string, page?: Paging) => Promise<Page<VersionSummary>>;
        get: (orgId: string, flowId: string, version: number) => Promise<Flow>;
        diff: (orgId: string, flowId: string, from: number, to: number) => Promise<Record<string, unknown>>;
        restore: (orgId: string, flowId: string, version: number) => Promise<Flow>;
    };
    readonly outputs: {
        write: (orgId: string, flowId: string, body: {
            nodeId: string;
            output: unknown;
            computeTime: number;
        }) => Promise<NodeOutput>;
        list: (orgId: string, flowId: string, query?: Paging & {
            nodeId?: string;
            latest?: boolean;
        }) => Promise<Page<NodeOutput>>;
    };
    readonly audit: {
        list: (orgId: string, query?: Paging & {
            action?: string;
            actor?: string;
            resource?: string;
            from?: number;
            to?: number;
        }) => Promise<Page<AuditEvent>>;
        verify: (orgId: string) => Promise<AuditVerify>;
    };
    readonly nodeTypes: {
        list: (orgId?: string) => Promise<Page<Record<string, unknown>>>;
    };
    readonly runs: {
        start: (orgId: string, flowId: string, body?: {
            inputs?: unknown;
            nodes?: string[];
            version?: number;
            force?: boolean;
        }) => Promise<Run>;
        list: (orgId: string, query?: Paging & {
            flowId?: string;
            status?: string;
        }) => Promise<Page<Run>>;
        get: (orgId: string, runId: string) => Promise<Run>;
        cancel: (orgId: string, runId: string) => Promise<Run>;
    };
    readonly schedules: {
        create: (orgId: string, flowId: string, body: {
            cron: string;
            timezone?: string;
            inputs?: unknown;
            enabled?: boolean;
        }) => Promise<Schedule>;
        list: (orgId: string, flowId: string) => Promise<Page<Schedule>>;
        update: (orgId: string, flowId: string, scheduleId: string, body: Partial<Pick<Schedule, "cron" | "timezone" | "inputs" | "enabled">>) => Promise<Schedule>;
        delete: (orgId: string, flowId: string, scheduleId: string) => Promise<void>;
    };
    readonly webhooks: {
        create: (orgId: string, flowId: string, body?: {
            name?: string;
        }) => Promise<Webhook & {
            secret: string;
        }>;
        list: (orgId: string, flowId: string, page?: Paging) => Promise<Page<Webhook>>;
        delete: (orgId: string, flowId: string, webhookId: string) => Promise<void>;
        rotateSecret: (orgId: string, flowId: string, webhookId: string) => Promise<Webhook & {
            secret: string;
        }>;
    };
    readonly eventWebhooks: {
        create: (orgId: string, body: {
            url: string;
            events: string[];
        }) => Promise<EventWebhook & {
            secret: string;
        }>;
        list: (orgId: string, page?: Paging) => Promise<Page<EventWebhook>>;
        delete: (orgId: string, id: string) => Promise<void>;
        /** Newest first: status, attempts, the receiver's answer, the next attempt. */
        deliveries: (orgId: string, id: string, page?: Paging) => Promise<Page<EventDelivery>>;
    };
    readonly admin: {
        orgs: (page?: Paging) => Promise<Page<Organization>>;
        setPlan: (orgId: string, plan: string) => Promise<Organization>;
        backups: (page?: Paging) => Promise<Page<Record<string, unknown>>>;
    };
    readonly health: {
        live: () => Promise<{
            status: string;
        }>;
        ready: () => Promise<Record<string, unknown>>;
    };
}

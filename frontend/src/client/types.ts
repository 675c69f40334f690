/** The shapes of the Minibase contract, as the server sends them (camelCase, ms times). */

export type Role = "admin" | "editor" | "viewer";

export interface Page<T> {
  items: T[];
  nextCursor: string | null;
}

export interface User {
  id: string;
  email: string;
  name: string | null;
}

export interface Organization {
  id: string;
  name: string;
  settings?: {
    maxNodes: number | null;
    maxFlows: number | null;
    allowedNodeTypes: string[] | null;
    storageQuota: number | null;
    [key: string]: unknown;
  };
  billing?: {
    plan: string;
    subscriptionId: string | null;
    usageMetrics: { nodesUsed: number; flowsCreated: number; storageUsed: number };
  };
}

export interface Membership {
  organization: { id: string; name: string };
  role: Role;
}

export interface Me {
  user: User;
  memberships: Membership[];
}

export interface Session {
  user: User;
  token: string;
}

export interface Member {
  user: User;
  role: Role;
}

export interface Invitation {
  id: string;
  email: string;
  role: Role;
  expiresAt: number;
  token?: string;
}

export interface ApiKey {
  id: string;
  name: string;
  role: Role;
  key?: string;
  [key: string]: unknown;
}

/** A React Flow node as stored: at least `{id, type, position, data}`; other fields are kept. */
export interface FlowNode {
  id: string;
  type?: string;
  position: { x: number; y: number };
  data: Record<string, unknown>;
  [key: string]: unknown;
}

/** A React Flow edge as stored: at least `{id, source, target}`. */
export interface FlowEdge {
  id: string;
  source: string;
  target: string;
  sourceHandle?: string | null;
  targetHandle?: string | null;
  type?: string;
  data?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface Flow {
  id: string;
  organizationId: string;
  name: string;
  nodes: FlowNode[];
  edges: FlowEdge[];
  createdBy: string;
  version: number;
  lastModified: number;
  conflicts?: unknown[];
}

export interface FlowSummary {
  id: string;
  name: string;
  version: number;
  lastModified: number;
  createdBy: string;
  nodeCount: number;
  edgeCount: number;
  deletedAt?: number | null;
}

export type FlowOp =
  | { op: "addNode"; node: FlowNode }
  | { op: "updateNode"; id: string; set: Record<string, unknown> }
  | { op: "removeNode"; id: string }
  | { op: "addEdge"; edge: FlowEdge }
  | { op: "removeEdge"; id: string }
  | { op: "rename"; name: string };

export interface VersionSummary {
  version: number;
  createdBy: string;
  createdAt: number;
  summary: Record<string, unknown>;
}

export interface NodeOutput {
  id: string;
  organizationId: string;
  flowId: string;
  nodeId: string;
  output: unknown;
  timestamp: number;
  computeTime: number;
  runId?: string | null;
  cached?: boolean;
}

export interface Meter {
  used: number;
  limit: number | null;
}

export interface Usage {
  flows: Meter;
  nodes: Meter;
  storage: Meter;
  warnings: Array<{ quota: string; level: "warning" | "critical"; used: number; limit: number }>;
}

export interface AuditEvent {
  id: string;
  seq: number;
  at: number;
  actor: { type: string; id: string | null };
  action: string;
  resource: { type: string; id: string | null };
  ip: string | null;
  userAgent: string | null;
  outcome: string;
  details: Record<string, unknown>;
  hash: string;
  prevHash: string;
}

export interface AuditVerify {
  ok: boolean;
  checked: number;
  firstBadSeq: number | null;
}

export type RunStatus = "queued" | "running" | "succeeded" | "failed" | "canceled" | "timed_out";

export interface Run {
  id: string;
  organizationId: string;
  flowId: string;
  flowVersion: number;
  status: RunStatus;
  trigger: { type: string; id: string | null };
  createdBy: string | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  error: { code: string; message: string; nodeId?: string } | null;
  nodes: Array<{
    nodeId: string;
    type: string;
    status: string;
    cached: boolean;
    startedAt: number | null;
    finishedAt: number | null;
    computeTime: number | null;
    outputId: string | null;
    error: { code: string; message: string } | null;
  }>;
}

export interface Schedule {
  id: string;
  flowId: string;
  cron: string;
  timezone: string;
  inputs: unknown;
  enabled: boolean;
  nextRunAt: number | null;
  lastRunAt: number | null;
  lastRunId: string | null;
}

/** An inbound webhook of a flow: `POST url` signed with its secret starts a run. */
export interface Webhook {
  id: string;
  organizationId?: string;
  flowId?: string;
  name?: string | null;
  /** Where to send the signed requests (`/v1/hooks/{id}` on the server's public URL). */
  url: string;
  createdBy?: string;
  createdAt?: number;
  rotatedAt?: number | null;
  /** Only in the answers of create and rotate-secret. */
  secret?: string;
  [key: string]: unknown;
}

/** An outbound event webhook of an org: the org's events are POSTed to `url`, signed. */
export interface EventWebhook {
  id: string;
  organizationId?: string;
  url: string;
  events: string[];
  createdBy?: string;
  createdAt?: number;
  /** Only in the answer of create. */
  secret?: string;
  [key: string]: unknown;
}

/** One event sent (or being sent) to an event webhook. */
export interface EventDelivery {
  id: string;
  webhookId: string;
  event: string;
  status: "pending" | "succeeded" | "failed" | (string & {});
  attempts: number;
  responseStatus: number | null;
  error: string | null;
  nextAttemptAt: number | null;
  lastAttemptAt: number | null;
  deliveredAt: number | null;
  createdAt: number;
  payload: unknown;
}

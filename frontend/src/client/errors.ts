/** The contract's error shape as one typed error class. */

export type ErrorCode =
  | "bad_request"
  | "unauthenticated"
  | "forbidden"
  | "quota_exceeded"
  | "not_found"
  | "version_conflict"
  | "conflict"
  | "payload_too_large"
  | "validation_error"
  | "precondition_required"
  | "rate_limited"
  | "network_error"
  | (string & {});

/** Every failed call rejects with a MinibaseError: `status` 0 when no answer came. */
export class MinibaseError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly details: Record<string, unknown>;

  constructor(status: number, code: ErrorCode, message: string, details: Record<string, unknown> = {}) {
    super(message);
    this.name = "MinibaseError";
    this.status = status;
    this.code = code;
    this.details = details;
  }

  /** Field errors of a 422 `validation_error`, as `[{field, message}]` when the server named them. */
  get fields(): Array<Record<string, unknown>> {
    const fields = this.details.fields;
    return Array.isArray(fields) ? (fields as Array<Record<string, unknown>>) : [];
  }
}

/** Build the error from a response body (the contract's `{error: {code, message, details}}`). */
export function errorFromBody(status: number, body: unknown): MinibaseError {
  const error = (body as { error?: { code?: unknown; message?: unknown; details?: unknown } } | null)?.error;
  if (error && typeof error.code === "string") {
    const message = typeof error.message === "string" ? error.message : error.code;
    const details = error.details && typeof error.details === "object" ? (error.details as Record<string, unknown>) : {};
    return new MinibaseError(status, error.code, message, details);
  }
  return new MinibaseError(status, status >= 500 ? "server_error" : "bad_request", `The server answered ${status}.`);
}

/** The contract's error shape as one typed error class. */
export type ErrorCode = "bad_request" | "unauthenticated" | "forbidden" | "quota_exceeded" | "not_found" | "version_conflict" | "conflict" | "payload_too_large" | "validation_error" | "precondition_required" | "rate_limited" | "network_error" | (string & {});
/** Every failed call rejects with a MinibaseError: `status` 0 when no answer came. */
export declare class MinibaseError extends Error {
    readonly status: number;
    readonly code: ErrorCode;
    readonly details: Record<string, unknown>;
    constructor(status: number, code: ErrorCode, message: string, details?: Record<string, unknown>);
    /** Field errors of a 422 `validation_error`, as `[{field, message}]` when the server named them. */
    get fields(): Array<Record<string, unknown>>;
}
/** Build the error from a response body (the contract's `{error: {code, message, details}}`). */
export declare function errorFromBody(status: number, body: unknown): MinibaseError;

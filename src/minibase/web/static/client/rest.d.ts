/** REST: one `request` that knows the contract (errors, idempotent retries, rate limits). */
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
export declare function delay(ms: number, signal?: AbortSignal): Promise<void>;
/** Full jitter backoff: a random wait up to `base * 2^attempt`, capped. */
export declare function backoff(attempt: number, base?: number, cap?: number): number;
export declare class Transport {
    url: string;
    token: string | null;
    readonly retries: number;
    private readonly onQuotaWarning?;
    private readonly fetchImpl;
    constructor(options: TransportOptions);
    href(path: string, query?: Query): string;
    /** Send one call. Writes carry an `Idempotency-Key`, so a retry never applies twice. */
    request<T>(method: string, path: string, options?: RequestOptions): Promise<T>;
}

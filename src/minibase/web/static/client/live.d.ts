/** Live queries over `WS /v1/sync`: reconnect with jittered backoff, resubscribe, latest value. */
import { MinibaseError } from "./errors";
export type LiveStatus = "connecting" | "open" | "closed";
export interface LiveQueryHandle {
    /** Stop receiving values (the subscription is dropped on the server too). */
    unsubscribe(): void;
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
export declare class LiveQueries {
    private readonly options;
    private readonly subs;
    private socket;
    private attempt;
    private counter;
    private timer;
    private pinger;
    private stopped;
    status: LiveStatus;
    constructor(options: LiveOptions);
    subscribe(query: string, args: Record<string, unknown>, onValue: (value: unknown, version: unknown) => void, onError?: (error: MinibaseError) => void): LiveQueryHandle;
    /** Close the socket and forget every subscription. */
    close(): void;
    /** Drop the current socket and connect again at once (e.g. after the token changed). */
    reconnect(): void;
    private setStatus;
    private send;
    private stopPinger;
    private connect;
    private scheduleReconnect;
    private onMessage;
}

/**
 * React Flow fields that describe one viewer's screen, not the flow: never sent to the
 * server (and, on the server, a change of only these makes no version).
 */
export declare const VIEW_FIELDS: readonly ["selected", "dragging", "resizing"];
/** View-only fields plus what React Flow measures in this browser (`measured`). */
export declare const LOCAL_FIELDS: readonly string[];
/** A copy of a node or edge without its view-only and measured fields. */
export declare function stripLocal<T extends Record<string, unknown>>(entity: T): T;

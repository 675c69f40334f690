/**
 * The Yjs document of a flow as React Flow nodes and edges, both ways.
 *
 * `doc.getMap("nodes")` and `doc.getMap("edges")` are the truth. Reading turns each entry
 * (a `Y.Map`, or a plain object kept as one unit) into a plain object; writing keeps the
 * form an entry already has and never sends view-only fields.
 */
import * as Y from "yjs";
type Entity = Record<string, unknown> & {
    id: string;
};
export declare function entryToJSON(entry: unknown): Entity | null;
/** A new `Y.Map` for a node or edge: `data` becomes a nested `Y.Map`, like the server's. */
export declare function entityToY(entity: Record<string, unknown>): Y.Map<unknown>;
/** Set top-level fields of one entry, keeping its form (a `Y.Map` field by field, a plain object whole). */
export declare function setFields(map: Y.Map<unknown>, id: string, fields: Record<string, unknown>): void;
/** Merge `data` into a node's data (or replace it when `replace`), key by key when it is a `Y.Map`. */
export declare function setData(map: Y.Map<unknown>, id: string, data: Record<string, unknown>, replace?: boolean): void;
/**
 * Keeps an ordered, incrementally updated list of plain entities for one `Y.Map`
 * (only the entries a transaction touched are read again).
 */
export declare class EntityList<T extends Entity> {
    readonly map: Y.Map<unknown>;
    private readonly byId;
    private order;
    private readonly handler;
    constructor(map: Y.Map<unknown>, onChange: (items: T[], local: boolean) => void);
    items(): T[];
    get(id: string): T | undefined;
    destroy(): void;
}
export {};

/**
 * The Yjs document of a flow as React Flow nodes and edges, both ways.
 *
 * `doc.getMap("nodes")` and `doc.getMap("edges")` are the truth. Reading turns each entry
 * (a `Y.Map`, or a plain object kept as one unit) into a plain object; writing keeps the
 * form an entry already has and never sends view-only fields.
 */

import * as Y from "yjs";
import { stripLocal } from "./viewFields";

type Entity = Record<string, unknown> & { id: string };

export function entryToJSON(entry: unknown): Entity | null {
  if (entry instanceof Y.Map) return entry.toJSON() as Entity;
  if (entry && typeof entry === "object") return { ...(entry as Entity) };
  return null;
}

/** A new `Y.Map` for a node or edge: `data` becomes a nested `Y.Map`, like the server's. */
export function entityToY(entity: Record<string, unknown>): Y.Map<unknown> {
  const map = new Y.Map<unknown>();
  for (const [key, value] of Object.entries(stripLocal(entity))) {
    if (value === undefined) continue;
    if (key === "data" && value && typeof value === "object" && !Array.isArray(value)) {
      const data = new Y.Map<unknown>();
      for (const [k, v] of Object.entries(value)) if (v !== undefined) data.set(k, v);
      map.set("data", data);
    } else {
      map.set(key, value);
    }
  }
  return map;
}

/** Set top-level fields of one entry, keeping its form (a `Y.Map` field by field, a plain object whole). */
export function setFields(map: Y.Map<unknown>, id: string, fields: Record<string, unknown>): void {
  const entry = map.get(id);
  if (entry instanceof Y.Map) {
    for (const [key, value] of Object.entries(stripLocal(fields))) {
      if (value === undefined) entry.delete(key);
      else if (key === "data" && entry.get("data") instanceof Y.Map && value && typeof value === "object") {
        setData(map, id, value as Record<string, unknown>, true);
      } else entry.set(key, value);
    }
  } else if (entry && typeof entry === "object") {
    map.set(id, stripLocal({ ...(entry as Record<string, unknown>), ...fields }));
  }
}

/** Merge `data` into a node's data (or replace it when `replace`), key by key when it is a `Y.Map`. */
export function setData(map: Y.Map<unknown>, id: string, data: Record<string, unknown>, replace = false): void {
  const entry = map.get(id);
  if (entry instanceof Y.Map) {
    const current = entry.get("data");
    if (current instanceof Y.Map) {
      if (replace) for (const key of Array.from(current.keys())) if (!(key in data)) current.delete(key);
      for (const [k, v] of Object.entries(data)) {
        if (v === undefined) current.delete(k);
        else current.set(k, v);
      }
    } else {
      const base = replace || !current || typeof current !== "object" ? {} : (current as Record<string, unknown>);
      entry.set("data", { ...base, ...data });
    }
  } else if (entry && typeof entry === "object") {
    const plain = entry as Record<string, unknown>;
    const base = replace ? {} : ((plain.data as Record<string, unknown>) ?? {});
    map.set(id, { ...plain, data: { ...base, ...data } });
  }
}

/**
 * Keeps an ordered, incrementally updated list of plain entities for one `Y.Map`
 * (only the entries a transaction touched are read again).
 */
export class EntityList<T extends Entity> {
  private readonly byId = new Map<string, T>();
  private order: string[] = [];
  private readonly handler: (events: Array<Y.YEvent<Y.AbstractType<unknown>>>, tx: Y.Transaction) => void;

  constructor(
    readonly map: Y.Map<unknown>,
    onChange: (items: T[], local: boolean) => void,
  ) {
    for (const [id, entry] of map.entries()) {
      const value = entryToJSON(entry);
      if (value) {
        this.byId.set(id, value as T);
        this.order.push(id);
      }
    }
    this.handler = (events, tx) => {
      const touched = new Set<string>();
      for (const event of events) {
        if (event.target === map) {
          for (const key of (event as Y.YMapEvent<unknown>).keysChanged) touched.add(key);
        } else if (event.path.length > 0) {
          touched.add(String(event.path[0]));
        }
      }
      let added = false;
      for (const id of touched) {
        const value = entryToJSON(map.get(id));
        if (value) {
          if (!this.byId.has(id)) added = true;
          this.byId.set(id, value as T);
        } else this.byId.delete(id);
      }
      if (added || this.order.length !== this.byId.size) {
        const kept = this.order.filter((id) => this.byId.has(id));
        const seen = new Set(kept);
        for (const id of this.byId.keys()) if (!seen.has(id)) kept.push(id);
        this.order = kept;
      }
      onChange(this.items(), tx.local);
    };
    map.observeDeep(this.handler);
  }

  items(): T[] {
    return this.order.map((id) => this.byId.get(id) as T);
  }

  get(id: string): T | undefined {
    return this.byId.get(id);
  }

  destroy(): void {
    this.map.unobserveDeep(this.handler);
  }
}

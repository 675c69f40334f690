/**
 * React Flow fields that describe one viewer's screen, not the flow: never sent to the
 * server (and, on the server, a change of only these makes no version).
 */
export const VIEW_FIELDS = ["selected", "dragging", "resizing"] as const;

/** View-only fields plus what React Flow measures in this browser (`measured`). */
export const LOCAL_FIELDS: readonly string[] = [...VIEW_FIELDS, "measured"];

/** A copy of a node or edge without its view-only and measured fields. */
export function stripLocal<T extends Record<string, unknown>>(entity: T): T {
  let copy: Record<string, unknown> | null = null;
  for (const field of LOCAL_FIELDS) {
    if (field in entity) {
      copy ??= { ...entity };
      delete copy[field];
    }
  }
  return (copy ?? entity) as T;
}

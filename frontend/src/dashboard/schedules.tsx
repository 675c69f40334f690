/** A flow's schedules beside its canvas: live list, create, edit, delete. */

import { useMemo, useState } from "react";
import type { Page, Schedule } from "../client/minibase";
import { client } from "./session";
import { ErrorMessage, Form, formatTime, useAction } from "./ui";
import { useLiveQuery } from "./flows";

type Draft = { cron: string; timezone: string; inputs: string; enabled: boolean };

function browserTimeZone(): string {
  try {
    return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
  } catch {
    return "UTC";
  }
}

function timeZones(): string[] {
  try {
    return (Intl as unknown as { supportedValuesOf(key: string): string[] }).supportedValuesOf("timeZone");
  } catch {
    return [];
  }
}

const EMPTY: Draft = { cron: "", timezone: "", inputs: "{}", enabled: true };

/** The inputs field as an object, or an Error whose message says what is wrong. */
function parseInputs(text: string): Record<string, unknown> {
  if (!text.trim()) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`Inputs: not valid JSON (${err instanceof Error ? err.message : String(err)}).`);
  }
  if (!value || typeof value !== "object" || Array.isArray(value)) {
    throw new Error("Inputs must be a JSON object (names and values), not a list or a single value.");
  }
  return value as Record<string, unknown>;
}

export function SchedulesPanel({ orgId, flowId, readOnly }: { orgId: string; flowId: string; readOnly: boolean }) {
  const { value, error } = useLiveQuery<Page<Schedule>>("schedules.list", { orgId, flowId });
  const [editing, setEditing] = useState<string | null>(null);
  const [draft, setDraft] = useState<Draft>(() => ({ ...EMPTY, timezone: browserTimeZone() }));
  const form = useAction();
  const row = useAction();
  const zones = useMemo(timeZones, []);

  const reset = () => {
    setEditing(null);
    setDraft({ ...EMPTY, timezone: browserTimeZone() });
  };
  const startEdit = (s: Schedule) => {
    form.setError(null);
    setEditing(s.id);
    setDraft({ cron: s.cron, timezone: s.timezone, inputs: JSON.stringify(s.inputs ?? {}, null, 2), enabled: s.enabled });
  };
  const submit = () =>
    form.run(async () => {
      const body = { cron: draft.cron, timezone: draft.timezone || "UTC", inputs: parseInputs(draft.inputs), enabled: draft.enabled };
      if (editing) await client.schedules.update(orgId, flowId, editing, body);
      else await client.schedules.create(orgId, flowId, body);
      reset();
    });

  return (
    <aside className="panel" aria-label="Schedules">
      <h2>Schedules</h2>
      <p className="muted">Runs of this flow started on a timetable, with the same inputs each time.</p>
      <ErrorMessage error={error ?? row.error} />
      {!value ? (
        <p>Loading…</p>
      ) : value.items.length === 0 ? (
        <p>No schedules yet.</p>
      ) : (
        <ul className="versions schedules">
          {value.items.map((s) => (
            <li key={s.id} data-schedule-id={s.id} aria-label={`Schedule ${s.cron}`}>
              <code>{s.cron}</code> <span className="muted">{s.timezone}</span>{" "}
              <span className={`badge${s.enabled ? "" : " off"}`}>{s.enabled ? "on" : "paused"}</span>
              <dl className="facts">
                <dt>Next run</dt>
                <dd data-testid="next-run">{s.enabled ? formatTime(s.nextRunAt) : "paused"}</dd>
                <dt>Last run</dt>
                <dd data-testid="last-run">
                  {s.lastRunAt ? formatTime(s.lastRunAt) : "never"}
                  {s.lastRunAt && !s.lastRunId ? " (the flow could not run)" : ""}
                </dd>
                {Object.keys((s.inputs as object | null) ?? {}).length > 0 && (
                  <>
                    <dt>Inputs</dt>
                    <dd>
                      <code>{JSON.stringify(s.inputs).slice(0, 120)}</code>
                    </dd>
                  </>
                )}
              </dl>
              {!readOnly && (
                <>
                  <button type="button" className="link" onClick={() => startEdit(s)} aria-pressed={editing === s.id}>
                    Edit
                  </button>
                  <button
                    type="button"
                    className="link danger"
                    onClick={() => {
                      if (confirm(`Delete the schedule "${s.cron}"? Runs it started are kept.`)) {
                        void row.run(async () => {
                          await client.schedules.delete(orgId, flowId, s.id);
                          if (editing === s.id) reset();
                        });
                      }
                    }}
                  >
                    Delete
                  </button>
                </>
              )}
            </li>
          ))}
        </ul>
      )}
      {!readOnly && (
        <Form onSubmit={submit} label={editing ? "Edit schedule" : "New schedule"}>
          <h3>{editing ? "Edit schedule" : "New schedule"}</h3>
          <label>
            Cron expression
            <input
              name="cron"
              required
              value={draft.cron}
              placeholder="0 9 * * 1-5"
              aria-describedby="cron-help"
              autoComplete="off"
              spellCheck={false}
              onChange={(e) => setDraft({ ...draft, cron: e.target.value })}
            />
            <span id="cron-help" className="muted">
              minute hour day month weekday (a sixth field: seconds), or @hourly, @daily, @weekly, @monthly, @yearly
            </span>
          </label>
          <label>
            Time zone
            <input
              name="timezone"
              list="time-zones"
              value={draft.timezone}
              placeholder="UTC"
              autoComplete="off"
              onChange={(e) => setDraft({ ...draft, timezone: e.target.value })}
            />
          </label>
          <datalist id="time-zones">
            {zones.map((z) => (
              <option key={z} value={z} />
            ))}
          </datalist>
          <label>
            Inputs (JSON object)
            <textarea name="inputs" rows={3} spellCheck={false} value={draft.inputs} onChange={(e) => setDraft({ ...draft, inputs: e.target.value })} />
          </label>
          <label className="check">
            <input type="checkbox" name="enabled" checked={draft.enabled} onChange={(e) => setDraft({ ...draft, enabled: e.target.checked })} /> Enabled
          </label>
          <ErrorMessage error={form.error} />
          <div className="inline">
            <button type="submit" disabled={form.busy}>
              {editing ? "Save schedule" : "Add schedule"}
            </button>
            {editing && (
              <button type="button" className="link" onClick={reset}>
                Cancel
              </button>
            )}
          </div>
        </Form>
      )}
    </aside>
  );
}

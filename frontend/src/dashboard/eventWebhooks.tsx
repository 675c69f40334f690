/** Outbound event webhooks of an org (admins): subscribe a URL to events, see deliveries. */

import { useEffect, useState } from "react";
import type { EventDelivery, EventWebhook } from "../client/minibase";
import { client } from "./session";
import { ErrorMessage, Form, SecretOnce, formatTime, useAction } from "./ui";

/** The events the server sends (CONTRACT: outbound event webhooks). */
export const EVENTS = ["run.succeeded", "run.failed", "flow.created", "flow.updated", "flow.deleted", "member.added", "quota.warning"];

/** How often an open deliveries list is read again (deliveries have no live query). */
const DELIVERIES_REFRESH_MS = 2000;

export function EventWebhooksPage({ orgId }: { orgId: string }) {
  const [items, setItems] = useState<EventWebhook[] | null>(null);
  const [url, setUrl] = useState("");
  const [events, setEvents] = useState<string[]>([]);
  const [secret, setSecret] = useState<{ url: string; value: string } | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const { busy, error, run } = useAction();
  const load = async () => setItems((await client.eventWebhooks.list(orgId, { limit: 500 })).items);
  useEffect(() => {
    void run(load);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [orgId]);

  const create = () =>
    run(async () => {
      const created = await client.eventWebhooks.create(orgId, { url, events });
      setSecret({ url: created.url, value: created.secret ?? "" });
      setUrl("");
      setEvents([]);
      await load();
    });
  const toggle = (name: string, on: boolean) => setEvents((now) => (on ? [...now, name] : now.filter((e) => e !== name)));

  return (
    <section aria-labelledby="event-webhooks-title">
      <h1 id="event-webhooks-title">Event webhooks</h1>
      <p>
        The organization's events, sent as signed <code>POST</code> requests (Standard Webhooks, with the secret shown when you add
        the URL). A delivery that fails is tried again with growing waits for a day.
      </p>
      <Form onSubmit={create} label="New event webhook">
        <label>
          Target URL
          <input name="url" type="url" required value={url} placeholder="https://example.com/minibase-events" onChange={(e) => setUrl(e.target.value)} />
        </label>
        <fieldset className="events">
          <legend>Events</legend>
          {EVENTS.map((name) => (
            <label key={name} className="check">
              <input type="checkbox" checked={events.includes(name)} onChange={(e) => toggle(name, e.target.checked)} /> {name}
            </label>
          ))}
        </fieldset>
        <button type="submit" disabled={busy}>
          Add event webhook
        </button>
      </Form>
      <ErrorMessage error={error} />
      {secret && (
        <SecretOnce label="Event webhook secret" value={secret.value} onDone={() => setSecret(null)}>
          The signing secret for <strong>{secret.url}</strong>, shown only now: give it to the receiver to check signatures.
        </SecretOnce>
      )}
      {items === null ? (
        <p>Loading…</p>
      ) : items.length === 0 ? (
        <p>No event webhooks.</p>
      ) : (
        <table className="list" aria-label="Event webhooks">
          <thead>
            <tr>
              <th>URL</th>
              <th>Events</th>
              <th>Created</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {items.map((w) => (
              <tr key={w.id} data-webhook-id={w.id}>
                <td className="wrap">{w.url}</td>
                <td>{w.events.join(", ")}</td>
                <td>{formatTime(w.createdAt)}</td>
                <td className="actions">
                  <button type="button" className="link" aria-pressed={open === w.id} onClick={() => setOpen(open === w.id ? null : w.id)}>
                    Deliveries
                  </button>
                  <button
                    type="button"
                    className="link danger"
                    onClick={() => {
                      if (confirm(`Stop sending events to ${w.url}?`)) {
                        void run(async () => {
                          await client.eventWebhooks.delete(orgId, w.id);
                          if (open === w.id) setOpen(null);
                          await load();
                        });
                      }
                    }}
                  >
                    Delete
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {open && items?.some((w) => w.id === open) && (
        <Deliveries key={open} orgId={orgId} webhook={items.find((w) => w.id === open)!} />
      )}
    </section>
  );
}

function Deliveries({ orgId, webhook }: { orgId: string; webhook: EventWebhook }) {
  const [items, setItems] = useState<EventDelivery[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const read = async () => {
      try {
        const page = await client.eventWebhooks.deliveries(orgId, webhook.id, { limit: 100 });
        if (!stopped) {
          setItems(page.items);
          setError(null);
        }
      } catch (err) {
        if (!stopped) setError(err);
      }
      if (!stopped) timer = setTimeout(() => void read(), DELIVERIES_REFRESH_MS);
    };
    void read();
    return () => {
      stopped = true;
      clearTimeout(timer);
    };
  }, [orgId, webhook.id]);
  return (
    <div className="diff" role="region" aria-label="Deliveries">
      <h2>Deliveries to {webhook.url}</h2>
      <ErrorMessage error={error} />
      {items === null ? (
        <p>Loading…</p>
      ) : items.length === 0 ? (
        <p>Nothing sent yet.</p>
      ) : (
        <table className="list" aria-label="Deliveries">
          <thead>
            <tr>
              <th>When</th>
              <th>Event</th>
              <th>Status</th>
              <th>Attempts</th>
              <th>Answer</th>
              <th>Next attempt</th>
            </tr>
          </thead>
          <tbody>
            {items.map((d) => (
              <tr key={d.id} data-delivery-id={d.id}>
                <td>{formatTime(d.createdAt)}</td>
                <td>{d.event}</td>
                <td>
                  <span className={`badge delivery-${d.status}`} data-testid="delivery-status">
                    {d.status}
                  </span>
                </td>
                <td>{d.attempts}</td>
                <td>{d.error ?? (d.responseStatus === null ? "—" : `HTTP ${d.responseStatus}`)}</td>
                <td>{d.status === "pending" ? formatTime(d.nextAttemptAt) : "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

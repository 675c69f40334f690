/** Inbound webhooks of a flow, beside its canvas: create (the secret shown once), rotate, delete. */

import { useEffect, useState } from "react";
import type { Webhook } from "../client/minibase";
import { client } from "./session";
import { ErrorMessage, Form, SecretOnce, copyText, formatTime, useAction } from "./ui";

export function WebhooksPanel({ orgId, flowId, readOnly }: { orgId: string; flowId: string; readOnly: boolean }) {
  const [items, setItems] = useState<Webhook[] | null>(null);
  const [name, setName] = useState("");
  const [secret, setSecret] = useState<{ name: string; value: string } | null>(null);
  const { busy, error, run } = useAction();
  const load = async () => setItems((await client.webhooks.list(orgId, flowId)).items);
  useEffect(() => {
    void run(load);
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [orgId, flowId]);
  const label = (w: Webhook) => w.name || w.id;

  const create = () =>
    run(async () => {
      const created = await client.webhooks.create(orgId, flowId, name ? { name } : {});
      setSecret({ name: label(created), value: created.secret ?? "" });
      setName("");
      await load();
    });

  return (
    <aside className="panel" aria-label="Webhooks">
      <h2>Webhooks</h2>
      <p className="muted">
        A signed <code>POST</code> to a webhook's URL starts a run of this flow with the JSON body as its input (Standard Webhooks: the
        headers <code>webhook-id</code>, <code>webhook-timestamp</code>, <code>webhook-signature</code>, made with its secret).
      </p>
      {secret && (
        <SecretOnce label="Webhook secret" value={secret.value} onDone={() => setSecret(null)}>
          The secret of <strong>{secret.name}</strong>, shown only now: keep it where the sender can sign with it.
        </SecretOnce>
      )}
      <ErrorMessage error={error} />
      {items === null ? (
        <p>Loading…</p>
      ) : items.length === 0 ? (
        <p>No webhooks yet.</p>
      ) : (
        <ul className="versions schedules">
          {items.map((w) => (
            <li key={w.id} data-webhook-id={w.id} aria-label={`Webhook ${label(w)}`}>
              <strong>{label(w)}</strong>
              <div className="inline url">
                <input aria-label={`URL of ${label(w)}`} readOnly value={w.url} onFocus={(e) => e.currentTarget.select()} />
                <button type="button" className="link" onClick={() => void copyText(w.url)}>
                  Copy URL
                </button>
              </div>
              <dl className="facts">
                <dt>Created</dt>
                <dd>{formatTime(w.createdAt)}</dd>
                <dt>Secret</dt>
                <dd>{w.rotatedAt ? `rotated ${formatTime(w.rotatedAt)}` : "the first one"}</dd>
              </dl>
              {!readOnly && (
                <>
                  <button
                    type="button"
                    className="link"
                    onClick={() => {
                      if (confirm(`Give "${label(w)}" a new secret? The current one stops working at once.`)) {
                        void run(async () => {
                          const rotated = await client.webhooks.rotateSecret(orgId, flowId, w.id);
                          setSecret({ name: label(rotated), value: rotated.secret ?? "" });
                          await load();
                        });
                      }
                    }}
                  >
                    Rotate secret
                  </button>
                  <button
                    type="button"
                    className="link danger"
                    onClick={() => {
                      if (confirm(`Delete the webhook "${label(w)}"? Requests to its URL stop starting runs.`)) {
                        void run(async () => {
                          await client.webhooks.delete(orgId, flowId, w.id);
                          setSecret(null);
                          await load();
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
        <Form onSubmit={create} label="New webhook">
          <h3>New webhook</h3>
          <div className="inline">
            <label>
              Webhook name
              <input name="webhookName" maxLength={200} value={name} placeholder="optional" onChange={(e) => setName(e.target.value)} />
            </label>
            <button type="submit" disabled={busy}>
              Create webhook
            </button>
          </div>
        </Form>
      )}
    </aside>
  );
}

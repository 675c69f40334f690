/** The org's flows: a live list, create, rename, delete; the trash with restore. */

import { useEffect, useState } from "react";
import type { FlowSummary, Page } from "../client/minibase";
import { client, roleIn, useSession } from "./session";
import { ErrorMessage, Form, Link, formatTime, useAction } from "./ui";
import { navigate } from "./router";

export function useLiveQuery<T>(query: string, args: Record<string, unknown> | null): { value: T | null; error: unknown } {
  const [value, setValue] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const key = JSON.stringify(args);
  useEffect(() => {
    if (!args) return;
    setValue(null);
    const handle = client.subscribe<T>(query, args, (v) => {
      setValue(v);
      setError(null);
    }, setError);
    return () => handle.unsubscribe();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [query, key]);
  return { value, error };
}

export function FlowsPage({ orgId }: { orgId: string }) {
  const me = useSession((s) => s.me);
  const canEdit = roleIn(me, orgId) !== "viewer";
  const { value, error } = useLiveQuery<Page<FlowSummary>>("flows.list", { orgId });
  const [name, setName] = useState("");
  const create = useAction();
  const row = useAction();
  const [renaming, setRenaming] = useState<string | null>(null);
  const [newName, setNewName] = useState("");

  const submit = () =>
    create.run(async () => {
      const flow = await client.flows.create(orgId, { name: name || "Untitled flow" });
      setName("");
      navigate(`/orgs/${orgId}/flows/${flow.id}`);
    });

  return (
    <section aria-labelledby="flows-title">
      <h1 id="flows-title">Flows</h1>
      {canEdit && (
        <Form onSubmit={submit} label="New flow">
          <div className="inline">
            <label>
              New flow name
              <input name="flowName" value={name} onChange={(e) => setName(e.target.value)} placeholder="Untitled flow" />
            </label>
            <button type="submit" disabled={create.busy}>
              Create flow
            </button>
          </div>
          <ErrorMessage error={create.error} />
        </Form>
      )}
      <ErrorMessage error={error ?? row.error} />
      {value === null ? (
        <p>Loading…</p>
      ) : value.items.length === 0 ? (
        <p>No flows yet.</p>
      ) : (
        <table className="list" aria-label="Flows">
          <thead>
            <tr>
              <th>Name</th>
              <th>Nodes</th>
              <th>Edges</th>
              <th>Version</th>
              <th>Last modified</th>
              {canEdit && <th>Actions</th>}
            </tr>
          </thead>
          <tbody>
            {value.items.map((flow) => (
              <tr key={flow.id} data-flow-id={flow.id}>
                <td>
                  {renaming === flow.id ? (
                    <Form
                      label="Rename flow"
                      onSubmit={() =>
                        row.run(async () => {
                          await client.flows.rename(orgId, flow.id, newName);
                          setRenaming(null);
                        })
                      }
                    >
                      <input aria-label="New name" value={newName} onChange={(e) => setNewName(e.target.value)} autoFocus />
                      <button type="submit">Save</button>
                      <button type="button" className="link" onClick={() => setRenaming(null)}>
                        Cancel
                      </button>
                    </Form>
                  ) : (
                    <Link to={`/orgs/${orgId}/flows/${flow.id}`}>{flow.name}</Link>
                  )}
                </td>
                <td>{flow.nodeCount}</td>
                <td>{flow.edgeCount}</td>
                <td>{flow.version}</td>
                <td>{formatTime(flow.lastModified)}</td>
                {canEdit && (
                  <td className="actions">
                    <button
                      type="button"
                      className="link"
                      onClick={() => {
                        setRenaming(flow.id);
                        setNewName(flow.name);
                      }}
                    >
                      Rename
                    </button>
                    <button
                      type="button"
                      className="link danger"
                      onClick={() => {
                        if (confirm(`Move "${flow.name}" to the trash?`)) void row.run(() => client.flows.delete(orgId, flow.id));
                      }}
                    >
                      Delete
                    </button>
                  </td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

export function TrashPage({ orgId }: { orgId: string }) {
  const [items, setItems] = useState<FlowSummary[] | null>(null);
  const { error, run } = useAction();
  const load = () => run(async () => setItems((await client.flows.list(orgId, { deleted: true, limit: 500 })).items));
  useEffect(() => {
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [orgId]);
  return (
    <section aria-labelledby="trash-title">
      <h1 id="trash-title">Trash</h1>
      <p>Deleted flows stay here for a while and can be brought back.</p>
      <ErrorMessage error={error} />
      {items === null ? (
        <p>Loading…</p>
      ) : items.length === 0 ? (
        <p>The trash is empty.</p>
      ) : (
        <table className="list" aria-label="Deleted flows">
          <thead>
            <tr>
              <th>Name</th>
              <th>Deleted</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {items.map((flow) => (
              <tr key={flow.id}>
                <td>{flow.name}</td>
                <td>{formatTime(flow.deletedAt ?? flow.lastModified)}</td>
                <td>
                  <button
                    type="button"
                    className="link"
                    onClick={() =>
                      void run(async () => {
                        await client.flows.restore(orgId, flow.id);
                        await load();
                      })
                    }
                  >
                    Restore
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

/** Members and invitations, API keys, usage meters, the audit log. */

import { useEffect, useState } from "react";
import type { ApiKey, AuditEvent, AuditVerify, Invitation, Member, Page, Role, Usage } from "../client/minibase";
import { client, roleIn, useSession } from "./session";
import { ErrorMessage, Form, SecretOnce, formatBytes, formatTime, useAction } from "./ui";
import { useLiveQuery } from "./flows";

const ROLES: Role[] = ["admin", "editor", "viewer"];

export function MembersPage({ orgId }: { orgId: string }) {
  const me = useSession((s) => s.me);
  const isAdmin = roleIn(me, orgId) === "admin";
  const { value, error } = useLiveQuery<Page<Member>>("members.list", { orgId });
  const row = useAction();
  return (
    <section aria-labelledby="members-title">
      <h1 id="members-title">Members</h1>
      <ErrorMessage error={error ?? row.error} />
      {!value ? (
        <p>Loading…</p>
      ) : (
        <table className="list" aria-label="Members">
          <thead>
            <tr>
              <th>Name</th>
              <th>Email</th>
              <th>Role</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {value.items.map((m) => (
              <tr key={m.user.id}>
                <td>{m.user.name ?? "—"}</td>
                <td>{m.user.email}</td>
                <td>
                  {isAdmin ? (
                    <select
                      aria-label={`Role of ${m.user.email}`}
                      value={m.role}
                      onChange={(e) => void row.run(() => client.members.setRole(orgId, m.user.id, e.target.value as Role))}
                    >
                      {ROLES.map((r) => (
                        <option key={r}>{r}</option>
                      ))}
                    </select>
                  ) : (
                    m.role
                  )}
                </td>
                <td>
                  {(isAdmin || m.user.id === me?.user.id) && (
                    <button
                      type="button"
                      className="link danger"
                      onClick={() => {
                        const self = m.user.id === me?.user.id;
                        if (confirm(self ? "Leave this organization?" : `Remove ${m.user.email}?`)) {
                          void row.run(async () => {
                            await client.members.remove(orgId, m.user.id);
                            if (self) await useSession.getState().refresh();
                          });
                        }
                      }}
                    >
                      {m.user.id === me?.user.id ? "Leave" : "Remove"}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {isAdmin && <Invitations orgId={orgId} />}
    </section>
  );
}

function Invitations({ orgId }: { orgId: string }) {
  const [items, setItems] = useState<Invitation[] | null>(null);
  const [email, setEmail] = useState("");
  const [role, setRole] = useState<Role>("editor");
  const [link, setLink] = useState<string | null>(null);
  const { busy, error, run } = useAction();
  const load = () => run(async () => setItems((await client.invitations.list(orgId, { limit: 500 })).items));
  useEffect(() => {
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [orgId]);
  const invite = () =>
    run(async () => {
      const created = await client.invitations.create(orgId, { email, role });
      setLink(`${location.origin}/invite#${created.token}`);
      setEmail("");
      setItems((await client.invitations.list(orgId, { limit: 500 })).items);
    });
  return (
    <>
      <h2>Invitations</h2>
      <Form onSubmit={invite} label="Invite someone">
        <div className="inline">
          <label>
            Email
            <input name="inviteEmail" type="email" required value={email} onChange={(e) => setEmail(e.target.value)} />
          </label>
          <label>
            Role
            <select name="inviteRole" aria-label="Role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
              {ROLES.map((r) => (
                <option key={r}>{r}</option>
              ))}
            </select>
          </label>
          <button type="submit" disabled={busy}>
            Invite
          </button>
        </div>
      </Form>
      <ErrorMessage error={error} />
      {link && (
        <SecretOnce label="Invitation link" value={link}>
          Send this link to the person you invited. It is shown only now and works once.
        </SecretOnce>
      )}
      {items && items.length > 0 && (
        <table className="list" aria-label="Pending invitations">
          <thead>
            <tr>
              <th>Email</th>
              <th>Role</th>
              <th>Expires</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {items.map((inv) => (
              <tr key={inv.id}>
                <td>{inv.email}</td>
                <td>{inv.role}</td>
                <td>{formatTime(inv.expiresAt)}</td>
                <td>
                  <button
                    type="button"
                    className="link danger"
                    onClick={() =>
                      void run(async () => {
                        await client.invitations.revoke(orgId, inv.id);
                        await load();
                      })
                    }
                  >
                    Revoke
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </>
  );
}

export function KeysPage({ orgId }: { orgId: string }) {
  const [items, setItems] = useState<ApiKey[] | null>(null);
  const [name, setName] = useState("");
  const [role, setRole] = useState<Role>("editor");
  const [created, setCreated] = useState<{ name: string; key: string } | null>(null);
  const { busy, error, run } = useAction();
  const load = () => run(async () => setItems((await client.apiKeys.list(orgId, { limit: 500 })).items));
  useEffect(() => {
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [orgId]);
  const create = () =>
    run(async () => {
      const key = await client.apiKeys.create(orgId, { name, role });
      setCreated({ name: key.name, key: key.key });
      setName("");
      setItems((await client.apiKeys.list(orgId, { limit: 500 })).items);
    });
  return (
    <section aria-labelledby="keys-title">
      <h1 id="keys-title">API keys</h1>
      <p>An API key acts in this organization with one role. Scripts and servers use it as a bearer token.</p>
      <Form onSubmit={create} label="Create an API key">
        <div className="inline">
          <label>
            Key name
            <input name="keyName" required value={name} onChange={(e) => setName(e.target.value)} />
          </label>
          <label>
            Role
            <select name="keyRole" aria-label="Role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
              {ROLES.map((r) => (
                <option key={r}>{r}</option>
              ))}
            </select>
          </label>
          <button type="submit" disabled={busy}>
            Create key
          </button>
        </div>
      </Form>
      <ErrorMessage error={error} />
      {created && (
        <SecretOnce label="New API key" value={created.key} onDone={() => setCreated(null)}>
          The key <strong>{created.name}</strong>, shown only now: copy it somewhere safe.
        </SecretOnce>
      )}
      {items === null ? (
        <p>Loading…</p>
      ) : items.length === 0 ? (
        <p>No API keys.</p>
      ) : (
        <table className="list" aria-label="API keys">
          <thead>
            <tr>
              <th>Name</th>
              <th>Role</th>
              <th>Created</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {items.map((k) => (
              <tr key={k.id} data-key-id={k.id}>
                <td>{k.name}</td>
                <td>{k.role}</td>
                <td>{formatTime(k.createdAt as number | undefined)}</td>
                <td>
                  <button
                    type="button"
                    className="link danger"
                    onClick={() => {
                      if (confirm(`Revoke the key "${k.name}"? Anything using it stops working at once.`)) {
                        void run(async () => {
                          await client.apiKeys.revoke(orgId, k.id);
                          await load();
                        });
                      }
                    }}
                  >
                    Revoke
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

function Meter({ label, used, limit, format }: { label: string; used: number; limit: number | null; format: (n: number) => string }) {
  const ratio = limit ? used / limit : 0;
  const level = ratio >= 0.95 ? "critical" : ratio >= 0.8 ? "warning" : "ok";
  return (
    <div className={`meter ${level}`}>
      <div className="meter-label">
        <span>{label}</span>
        <span>
          {format(used)} of {limit === null ? "unlimited" : format(limit)}
        </span>
      </div>
      <progress max={limit ?? 1} value={limit ? Math.min(used, limit) : 0} aria-label={label} />
    </div>
  );
}

export function UsagePage({ orgId }: { orgId: string }) {
  const { value, error } = useLiveQuery<Usage>("usage.get", { orgId });
  const count = (n: number) => n.toLocaleString();
  return (
    <section aria-labelledby="usage-title">
      <h1 id="usage-title">Usage and quotas</h1>
      <ErrorMessage error={error} />
      {!value ? (
        <p>Loading…</p>
      ) : (
        <>
          {value.warnings.map((w) => (
            <p key={w.quota} className={w.level === "critical" ? "error" : "warning"} role="status">
              {w.level === "critical" ? "Almost at the limit" : "Getting close to the limit"} of {w.quota}: {w.used.toLocaleString()} of{" "}
              {w.limit.toLocaleString()} used.
            </p>
          ))}
          <Meter label="Flows" used={value.flows.used} limit={value.flows.limit} format={count} />
          <Meter label="Nodes" used={value.nodes.used} limit={value.nodes.limit} format={count} />
          <Meter label="Storage" used={value.storage.used} limit={value.storage.limit} format={formatBytes} />
        </>
      )}
    </section>
  );
}

export function AuditPage({ orgId }: { orgId: string }) {
  const [filters, setFilters] = useState({ action: "", actor: "", resource: "" });
  const [applied, setApplied] = useState(filters);
  const [page, setPage] = useState<Page<AuditEvent> | null>(null);
  const [verify, setVerify] = useState<AuditVerify | null>(null);
  const { busy, error, run } = useAction();
  const load = (cursor?: string | null) =>
    run(async () => {
      const next = await client.audit.list(orgId, { ...applied, limit: 50, cursor });
      setPage((prev) => (cursor && prev ? { items: [...prev.items, ...next.items], nextCursor: next.nextCursor } : next));
    });
  useEffect(() => {
    void load();
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [orgId, applied]);
  return (
    <section aria-labelledby="audit-title">
      <h1 id="audit-title">Audit log</h1>
      <Form onSubmit={() => setApplied(filters)} label="Filter the audit log">
        <div className="inline">
          {(["action", "actor", "resource"] as const).map((k) => (
            <label key={k}>
              {k[0].toUpperCase() + k.slice(1)}
              <input name={k} value={filters[k]} onChange={(e) => setFilters({ ...filters, [k]: e.target.value })} />
            </label>
          ))}
          <button type="submit">Filter</button>
          <button type="button" onClick={() => void run(async () => setVerify(await client.audit.verify(orgId)))}>
            Verify chain
          </button>
        </div>
      </Form>
      {verify && (
        <p className={verify.ok ? "ok" : "error"} role="status">
          {verify.ok
            ? `The chain is intact: ${verify.checked} events checked.`
            : `The chain is broken at event ${verify.firstBadSeq} (${verify.checked} checked).`}
        </p>
      )}
      <ErrorMessage error={error} />
      {page && (
        <table className="list" aria-label="Audit events">
          <thead>
            <tr>
              <th>#</th>
              <th>When</th>
              <th>Action</th>
              <th>Actor</th>
              <th>Resource</th>
              <th>Outcome</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map((e) => (
              <tr key={e.id}>
                <td>{e.seq}</td>
                <td>{formatTime(e.at)}</td>
                <td>{e.action}</td>
                <td>
                  {e.actor.type} {e.actor.id}
                </td>
                <td>
                  {e.resource.type} {e.resource.id}
                </td>
                <td>{e.outcome}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {page?.nextCursor && (
        <button type="button" disabled={busy} onClick={() => void load(page.nextCursor)}>
          Older events
        </button>
      )}
    </section>
  );
}

type Backup = {
  name: string;
  createdAt?: number;
  bytes?: number;
  engine?: string;
  rows?: number;
  verify: { ok: boolean; checkedAt: number; problems: string[] } | null;
};

/** Backups of the whole instance (instance admins only): newest first, with their verification. */
export function BackupsPage() {
  const [page, setPage] = useState<Page<Backup> | null>(null);
  const { error, run } = useAction();
  useEffect(() => {
    void run(async () => setPage((await client.admin.backups({ limit: 100 })) as unknown as Page<Backup>));
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, []);
  return (
    <section aria-labelledby="backups-title">
      <h1 id="backups-title">Backups</h1>
      <p>Backups of this whole instance, taken by <code>minibase backup</code> or on the schedule set by MINIBASE_BACKUP_SCHEDULE.</p>
      <ErrorMessage error={error} />
      {!page ? (
        <p>Loading…</p>
      ) : page.items.length === 0 ? (
        <p>No backups yet.</p>
      ) : (
        <table className="list" aria-label="Backups">
          <thead>
            <tr>
              <th>Name</th>
              <th>Taken</th>
              <th>Size</th>
              <th>Rows</th>
              <th>Verified</th>
            </tr>
          </thead>
          <tbody>
            {page.items.map((b) => (
              <tr key={b.name}>
                <td>{b.name}</td>
                <td>{formatTime(b.createdAt)}</td>
                <td>{formatBytes(b.bytes)}</td>
                <td>{b.rows?.toLocaleString() ?? "—"}</td>
                <td>
                  {b.verify === null
                    ? "not yet"
                    : b.verify.ok
                      ? `ok (${formatTime(b.verify.checkedAt)})`
                      : `failed: ${b.verify.problems.join("; ")}`}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

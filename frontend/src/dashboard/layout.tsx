/** The frame around every org page: org switcher, new org, navigation, sign out. */

import { useState, type ReactNode } from "react";
import { client, roleIn, useSession } from "./session";
import { ErrorMessage, Form, Link, useAction } from "./ui";
import { navigate } from "./router";

export function OrgLayout({ orgId, section, children }: { orgId: string; section: string; children: ReactNode }) {
  const me = useSession((s) => s.me);
  const logout = useSession((s) => s.logout);
  const quotaWarning = useSession((s) => s.quotaWarning);
  const instanceAdmin = useSession((s) => s.instanceAdmin);
  const role = roleIn(me, orgId);
  const tabs: Array<[string, string, boolean]> = [
    ["flows", "Flows", true],
    ["trash", "Trash", role !== "viewer"],
    ["members", "Members", true],
    ["keys", "API keys", role === "admin"],
    ["usage", "Usage", true],
    ["audit", "Audit log", role === "admin"],
    ["webhooks", "Webhooks", role === "admin"],
    ["backups", "Backups", instanceAdmin],
  ];
  return (
    <div className="shell">
      <header className="top">
        <Link to="/" className="brand">
          Minibase
        </Link>
        <label className="org-switch">
          <span className="visually-hidden">Organization</span>
          <select
            aria-label="Organization"
            value={orgId}
            onChange={(e) => (e.target.value === "__new" ? navigate("/orgs/new") : navigate(`/orgs/${e.target.value}`))}
          >
            {me?.memberships.map((m) => (
              <option key={m.organization.id} value={m.organization.id}>
                {m.organization.name}
              </option>
            ))}
            <option value="__new">+ New organization…</option>
          </select>
        </label>
        <nav aria-label="Sections">
          {tabs
            .filter(([, , shown]) => shown)
            .map(([key, label]) => (
              <Link key={key} to={`/orgs/${orgId}/${key === "flows" ? "" : key}`.replace(/\/$/, "")} className={section === key ? "active" : ""}>
                {label}
              </Link>
            ))}
        </nav>
        <span className="who">
          {me?.user.email} {role && <span className="badge">{role}</span>}
        </span>
        <button type="button" className="link" onClick={() => void logout().then(() => navigate("/login"))}>
          Log out
        </button>
      </header>
      {quotaWarning && (
        <p className="warning" role="status">
          Quota warning: {quotaWarning}.
        </p>
      )}
      <main className="content">{children}</main>
    </div>
  );
}

export function NewOrgPage({ first }: { first?: boolean }) {
  const [name, setName] = useState("");
  const { busy, error, run } = useAction();
  const refresh = useSession((s) => s.refresh);
  const logout = useSession((s) => s.logout);
  const submit = () =>
    run(async () => {
      const org = await client.orgs.create({ name });
      await refresh();
      navigate(`/orgs/${org.id}`);
    });
  return (
    <main className="auth">
      <h1>{first ? "Create your first organization" : "New organization"}</h1>
      <p>An organization holds flows, members and their roles, API keys and an audit log.</p>
      <Form onSubmit={submit} label="New organization">
        <label>
          Organization name
          <input name="orgName" required value={name} onChange={(e) => setName(e.target.value)} />
        </label>
        <ErrorMessage error={error} />
        <button type="submit" disabled={busy}>
          Create organization
        </button>
      </Form>
      <p>
        {first ? (
          <button type="button" className="link" onClick={() => void logout().then(() => navigate("/login"))}>
            Log out
          </button>
        ) : (
          <Link to="/">Back</Link>
        )}
      </p>
    </main>
  );
}

/** Routes of the dashboard. The server serves the same page for each of these paths. */

import { useEffect } from "react";
import { AuthPage, InvitePage } from "./auth";
import { AuditPage, BackupsPage, KeysPage, MembersPage, UsagePage } from "./admin";
import { FlowEditorPage } from "./editor";
import { EventWebhooksPage } from "./eventWebhooks";
import { FlowsPage, TrashPage } from "./flows";
import { NewOrgPage, OrgLayout } from "./layout";
import { match, navigate, usePath } from "./router";
import { useSession } from "./session";

const SECTIONS = {
  trash: TrashPage,
  members: MembersPage,
  keys: KeysPage,
  usage: UsagePage,
  audit: AuditPage,
  webhooks: EventWebhooksPage,
  backups: BackupsPage,
} as const;

export function App() {
  const path = usePath();
  const token = useSession((s) => s.token);
  const me = useSession((s) => s.me);
  const loading = useSession((s) => s.loading);
  const next = new URLSearchParams(location.search).get("next") ?? undefined;
  const safeNext = next && next.startsWith("/") && !next.startsWith("//") ? next : undefined;

  useEffect(() => {
    if (token && !me) void useSession.getState().refresh();
  }, [token, me]);

  if (match("/invite", path)) return <InvitePage />;
  if (match("/signup", path)) return token ? <Redirect to={safeNext ?? "/"} /> : <AuthPage mode="signup" next={safeNext} />;
  if (!token || match("/login", path)) {
    return token ? <Redirect to={safeNext ?? "/"} /> : <AuthPage mode="login" next={safeNext ?? (path === "/" ? undefined : path)} />;
  }
  if (loading || !me) return <p className="loading">Loading…</p>;
  if (match("/orgs/new", path)) return <NewOrgPage first={me.memberships.length === 0} />;
  if (path === "/" || path.startsWith("/?")) {
    const first = me.memberships[0];
    return first ? <Redirect to={`/orgs/${first.organization.id}`} /> : <NewOrgPage first />;
  }
  let params = match("/orgs/:orgId/flows/:flowId", path);
  if (params && isMember(params.orgId)) {
    return (
      <OrgLayout orgId={params.orgId} section="flows">
        <FlowEditorPage key={params.flowId} orgId={params.orgId} flowId={params.flowId} />
      </OrgLayout>
    );
  }
  params = match("/orgs/:orgId/:section", path);
  if (params && isMember(params.orgId) && params.section in SECTIONS) {
    const Page = SECTIONS[params.section as keyof typeof SECTIONS];
    return (
      <OrgLayout orgId={params.orgId} section={params.section}>
        <Page key={params.orgId} orgId={params.orgId} />
      </OrgLayout>
    );
  }
  params = match("/orgs/:orgId", path);
  if (params && isMember(params.orgId)) {
    return (
      <OrgLayout orgId={params.orgId} section="flows">
        <FlowsPage key={params.orgId} orgId={params.orgId} />
      </OrgLayout>
    );
  }
  return (
    <main className="auth">
      <h1>Not found</h1>
      <p>There is nothing here, or it belongs to an organization you are not a member of.</p>
      <p>
        <a href="/" onClick={(e) => (e.preventDefault(), navigate("/"))}>
          Go to your flows
        </a>
      </p>
    </main>
  );

  function isMember(orgId: string): boolean {
    return me!.memberships.some((m) => m.organization.id === orgId);
  }
}

function Redirect({ to }: { to: string }) {
  useEffect(() => navigate(to, true), [to]);
  return null;
}

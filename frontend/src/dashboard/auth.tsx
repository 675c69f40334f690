/** Sign up, log in, and the invitation page (`/invite#<token>`). */

import { useEffect, useState } from "react";
import { client, useSession } from "./session";
import { ErrorMessage, Form, Link, useAction } from "./ui";
import { navigate } from "./router";

export function AuthPage({ mode, next }: { mode: "login" | "signup"; next?: string }) {
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [name, setName] = useState("");
  const { busy, error, run } = useAction();
  const signedIn = useSession((s) => s.signedIn);
  const submit = () =>
    run(async () => {
      const session =
        mode === "signup"
          ? await client.auth.signup({ email, password, name: name || undefined })
          : await client.auth.login({ email, password });
      await signedIn(session.token);
      navigate(next ?? "/", true);
    });
  const title = mode === "signup" ? "Create your account" : "Sign in";
  return (
    <main className="auth">
      <h1>{title}</h1>
      <Form onSubmit={submit} label={title}>
        {mode === "signup" && (
          <label>
            Name
            <input name="name" autoComplete="name" value={name} onChange={(e) => setName(e.target.value)} />
          </label>
        )}
        <label>
          Email
          <input name="email" type="email" required autoComplete="email" value={email} onChange={(e) => setEmail(e.target.value)} />
        </label>
        <label>
          Password
          <input
            name="password"
            type="password"
            required
            autoComplete={mode === "signup" ? "new-password" : "current-password"}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
        </label>
        <ErrorMessage error={error} />
        <button type="submit" disabled={busy}>
          {mode === "signup" ? "Sign up" : "Log in"}
        </button>
      </Form>
      <p>
        {mode === "signup" ? (
          <>
            Have an account? <Link to={withNext("/login", next)}>Log in</Link>
          </>
        ) : (
          <>
            New here? <Link to={withNext("/signup", next)}>Create an account</Link>
          </>
        )}
      </p>
    </main>
  );
}

function withNext(path: string, next?: string): string {
  return next ? `${path}?next=${encodeURIComponent(next)}` : path;
}

/** `/invite#<token>`: the token stays in the fragment, never sent to the server in a URL. */
export function InvitePage() {
  const token = useSession((s) => s.token);
  const me = useSession((s) => s.me);
  const refresh = useSession((s) => s.refresh);
  const [invite] = useState(() => {
    const fromHash = location.hash.slice(1);
    if (fromHash) sessionStorage.setItem("minibase.invite", fromHash);
    return fromHash || sessionStorage.getItem("minibase.invite") || "";
  });
  const { busy, error, run } = useAction();
  const [accepted, setAccepted] = useState<{ organization: { id: string; name: string }; role: string } | null>(null);

  useEffect(() => {
    // Keep the token out of the address bar (and of any later Referer).
    if (location.hash) history.replaceState(null, "", "/invite");
  }, []);

  if (!invite) {
    return (
      <main className="auth">
        <h1>Invitation</h1>
        <p className="error" role="alert">
          This invitation link is incomplete. Ask the person who invited you to send it again.
        </p>
      </main>
    );
  }
  if (!token) {
    return (
      <main className="auth">
        <h1>You are invited</h1>
        <p>Sign in, or create an account with the email address the invitation was sent to, to join.</p>
        <p>
          <Link to="/login?next=/invite">Log in</Link> · <Link to="/signup?next=/invite">Create an account</Link>
        </p>
      </main>
    );
  }
  const accept = () =>
    run(async () => {
      const result = await client.invitations.accept(invite);
      sessionStorage.removeItem("minibase.invite");
      setAccepted(result);
      await refresh();
    });
  return (
    <main className="auth">
      <h1>You are invited</h1>
      {accepted ? (
        <>
          <p role="status">
            You joined <strong>{accepted.organization.name}</strong> as {accepted.role}.
          </p>
          <button type="button" onClick={() => navigate(`/orgs/${accepted.organization.id}`)}>
            Open {accepted.organization.name}
          </button>
        </>
      ) : (
        <>
          <p>Signed in as {me?.user.email}.</p>
          <ErrorMessage error={error} />
          <button type="button" onClick={accept} disabled={busy}>
            Accept invitation
          </button>
        </>
      )}
    </main>
  );
}

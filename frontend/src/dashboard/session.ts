/** The signed-in session: the client, the token (kept in localStorage), `/v1/me`. */

import { create } from "zustand";
import { createClient, MinibaseError, type Me } from "../client/minibase";

const TOKEN_KEY = "minibase.token";

function storedToken(): string | null {
  try {
    return localStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

export const client = createClient({
  url: location.origin,
  token: storedToken(),
  onUnauthenticated: () => useSession.getState().signedOut(),
  onQuotaWarning: (warning) => useSession.getState().setQuotaWarning(warning),
});

interface SessionState {
  token: string | null;
  me: Me | null;
  /** Whether the user administers this instance (they may list backups). */
  instanceAdmin: boolean;
  loading: boolean;
  quotaWarning: string | null;
  setQuotaWarning(warning: string | null): void;
  signedIn(token: string): Promise<void>;
  signedOut(): void;
  refresh(): Promise<Me | null>;
  logout(): Promise<void>;
}

export const useSession = create<SessionState>()((set, get) => ({
  token: storedToken(),
  me: null,
  instanceAdmin: false,
  loading: storedToken() !== null,
  quotaWarning: null,
  setQuotaWarning: (quotaWarning) => set({ quotaWarning }),
  async signedIn(token) {
    localStorage.setItem(TOKEN_KEY, token);
    client.setToken(token);
    set({ token, loading: true });
    await get().refresh();
  },
  signedOut() {
    localStorage.removeItem(TOKEN_KEY);
    client.close();
    client.setToken(null);
    set({ token: null, me: null, instanceAdmin: false, loading: false });
  },
  async refresh() {
    if (!get().token) {
      set({ me: null, loading: false });
      return null;
    }
    try {
      const me = await client.me.get();
      // Instance admins are told apart only by what the server lets them read.
      const instanceAdmin = await client.admin.backups({ limit: 1 }).then(
        () => true,
        () => false,
      );
      set({ me, instanceAdmin, loading: false });
      return me;
    } catch (err) {
      if (err instanceof MinibaseError && err.status === 401) get().signedOut();
      else set({ loading: false });
      return null;
    }
  },
  async logout() {
    try {
      await client.auth.logout();
    } finally {
      get().signedOut();
    }
  },
}));

/** The caller's role in an org, from `/v1/me`. */
export function roleIn(me: Me | null, orgId: string): "admin" | "editor" | "viewer" | null {
  return me?.memberships.find((m) => m.organization.id === orgId)?.role ?? null;
}

/** Small shared pieces: links, error messages, forms, formatting. */

import { useState, type ReactNode, type FormEvent, type MouseEvent } from "react";
import { MinibaseError } from "../client/minibase";
import { navigate } from "./router";

export function Link({ to, children, className }: { to: string; children: ReactNode; className?: string }) {
  const onClick = (event: MouseEvent<HTMLAnchorElement>) => {
    if (event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    navigate(to);
  };
  return (
    <a href={to} onClick={onClick} className={className}>
      {children}
    </a>
  );
}

/** A readable sentence for any error: the server's message, field by field for 422s. */
export function describeError(err: unknown): string {
  if (err instanceof MinibaseError) {
    if (err.code === "network_error") return "The server could not be reached. Check your connection and try again.";
    if (err.code === "quota_exceeded") {
      const d = err.details as { quota?: string; limit?: number; used?: number };
      return d.quota ? `${err.message} (${d.quota}: ${d.used ?? "?"} of ${d.limit ?? "?"} used)` : err.message;
    }
    const fields = err.fields
      .map((f) => [f.field ?? f.loc, f.message ?? f.msg].filter(Boolean).join(": "))
      .filter(Boolean);
    return fields.length ? `${err.message} ${fields.join("; ")}` : err.message;
  }
  return err instanceof Error ? err.message : String(err);
}

export function ErrorMessage({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {describeError(error)}
    </p>
  );
}

/** Run an async action with a busy flag and a readable error. */
export function useAction() {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const run = async <T,>(fn: () => Promise<T>): Promise<T | undefined> => {
    setBusy(true);
    setError(null);
    try {
      return await fn();
    } catch (err) {
      setError(err);
      return undefined;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, setError, run };
}

export function Form({ onSubmit, children, label }: { onSubmit: () => void | Promise<unknown>; children: ReactNode; label: string }) {
  const submit = (event: FormEvent) => {
    event.preventDefault();
    void onSubmit();
  };
  return (
    <form onSubmit={submit} aria-label={label}>
      {children}
    </form>
  );
}

/** Copy text to the clipboard; where the page may not (no permission), select it instead. */
export async function copyText(text: string, fallback?: HTMLInputElement | null): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    fallback?.focus();
    fallback?.select();
    return document.execCommand?.("copy") ?? false;
  }
}

/** A secret the server shows only once: read-only, a Copy button, and Done to hide it. */
export function SecretOnce({ label, value, children, onDone }: { label: string; value: string; children: ReactNode; onDone?: () => void }) {
  const [copied, setCopied] = useState<boolean | null>(null);
  const [input, setInput] = useState<HTMLInputElement | null>(null);
  return (
    <div className="secret" role="status">
      <p>{children}</p>
      <div className="inline">
        <input ref={setInput} aria-label={label} readOnly value={value} onFocus={(e) => e.currentTarget.select()} />
        <button type="button" onClick={() => void copyText(value, input).then(setCopied)}>
          Copy
        </button>
        {onDone && (
          <button type="button" className="link" onClick={onDone}>
            Done
          </button>
        )}
      </div>
      {copied !== null && <p className="muted">{copied ? "Copied to the clipboard." : "Selected: press Ctrl+C (⌘C) to copy."}</p>}
    </div>
  );
}

export function formatTime(ms: number | null | undefined): string {
  if (!ms) return "—";
  return new Date(ms).toLocaleString();
}

export function formatBytes(bytes: number | null | undefined): string {
  if (bytes === null || bytes === undefined) return "unlimited";
  const units = ["B", "KB", "MB", "GB", "TB"];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

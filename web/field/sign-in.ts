import { parseToken, sessionStore, takeTokenFromAddress, type Refusal, type Session } from "../shared/session.ts";
import { META, type FieldDb } from "./db.ts";
import { count, dateTime } from "./i18n/format.ts";
import { t } from "./i18n/index.ts";
import { byId, showToast } from "./ui.ts";

/** The canvasser's token lives in localStorage (and IndexedDB, for the service worker): it outlives reloads. */
const tokens = sessionStore({ key: "fieldpulse.token", storage: () => localStorage });

/** A stored session, even past `exp`: its outbox still belongs to it, and the server will say 401. */
export function loadSession(): Session | null {
  const parsed = tokens.load(0);
  return parsed?.ok ? parsed.session : null;
}

async function storeSession(db: FieldDb, session: Session): Promise<void> {
  tokens.store(session);
  const tx = db.transaction("meta", "readwrite");
  await tx.store.put(session.token, META.token);
  await tx.store.delete(META.authRefused(session.owner));
  await tx.done;
}

/** Sign out keeps the outbox: those events are sent when the same canvasser signs in again. */
async function clearSession(db: FieldDb): Promise<void> {
  tokens.clear();
  await db.delete("meta", META.token);
}

function refusal(r: Refusal): string {
  // Any role may canvass: "role" is never given here, but the words are kept honest should that change.
  return r.reason === "expired" ? t.signin.expired(dateTime(r.expiredAt)) : r.reason === "role" ? t.signin.unusable : t.signin[r.reason];
}

/** The sign-in screen, the link with `#token=…`, "Sign in again" (after a 401) and "Sign out". */
export interface SignInDeps {
  db: FieldDb;
  signedIn(session: Session): Promise<void>;
  signedOut(): Promise<void>;
  /** Events still on the phone, to warn before signing out. */
  unsentCount(): number;
  /** Last words before the session goes (ends the shift). */
  beforeSignOut(): Promise<void>;
}

export async function bindSignIn(deps: SignInDeps): Promise<void> {
  const signInWith = async (raw: string): Promise<string | null> => {
    const parsed = parseToken(raw);
    if (!parsed.ok) return refusal(parsed);
    await storeSession(deps.db, parsed.session);
    await deps.signedIn(parsed.session);
    return null;
  };

  byId("signin-btn").addEventListener("click", async () => {
    const input = byId("token-input", HTMLTextAreaElement);
    const error = await signInWith(input.value);
    byId("signin-error").textContent = error ?? "";
    if (!error) input.value = "";
  });
  // After a 401: back to the sign-in screen. The outbox stays; it is sent once this canvasser signs in again.
  const signInAgain = async () => {
    await clearSession(deps.db);
    await deps.signedOut();
  };
  byId("auth-signin").addEventListener("click", signInAgain);
  // The same from the thumb zone's status line ("Sign in again to send" is a button there).
  byId("status-line").addEventListener("click", (e) => {
    if ((e.target as Element | null)?.closest('[data-action="sign-in"]')) void signInAgain();
  });
  byId("signout").addEventListener("click", async () => {
    const waiting = deps.unsentCount();
    if (waiting > 0 && !confirm(t.signin.confirmSignOut(waiting))) return;
    await deps.beforeSignOut();
    await clearSession(deps.db);
    await deps.signedOut();
  });

  // A shared link carries the token in the fragment (never sent to a server): keep it, then strip it.
  const fromLink = takeTokenFromAddress();
  if (fromLink) {
    const error = await signInWith(fromLink);
    if (error) {
      byId("signin-error").textContent = error;
      showToast(error);
    }
  }
}

import type { FieldDb } from "./db.ts";
import { clearSession, parseToken, sessionFrom, storeSession, tokenFromFragment, type Session } from "./session.ts";
import { byId, showToast } from "./ui.ts";

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
    if (!parsed.ok) return parsed.error;
    const session = sessionFrom(raw);
    if (!session) return "This token cannot be used.";
    await storeSession(deps.db, session);
    await deps.signedIn(session);
    return null;
  };

  byId("signin-btn").addEventListener("click", async () => {
    const input = byId("token-input", HTMLTextAreaElement);
    const error = await signInWith(input.value);
    byId("signin-error").textContent = error ?? "";
    if (!error) input.value = "";
  });
  // After a 401: back to the sign-in screen. The outbox stays; it is sent once this canvasser signs in again.
  byId("auth-signin").addEventListener("click", async () => {
    await clearSession(deps.db);
    await deps.signedOut();
  });
  byId("signout").addEventListener("click", async () => {
    const waiting = deps.unsentCount();
    if (waiting > 0 && !confirm(`${waiting} item(s) are not sent yet. They stay on this phone and are sent when you sign in again. Sign out?`)) return;
    await deps.beforeSignOut();
    await clearSession(deps.db);
    await deps.signedOut();
  });

  // A shared link carries the token in the fragment (never sent to a server): keep it, then strip it.
  const fromLink = tokenFromFragment(location.hash);
  if (fromLink) {
    history.replaceState(null, "", location.pathname + location.search);
    const error = await signInWith(fromLink);
    if (error) {
      byId("signin-error").textContent = error;
      showToast(error);
    }
  }
}

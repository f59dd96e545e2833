import type { FieldDb } from "./db.ts";
import { count, dateTime } from "./i18n/format.ts";
import { t } from "./i18n/index.ts";
import { clearSession, parseToken, sessionFrom, storeSession, tokenFromFragment, type ParsedToken, type Session } from "./session.ts";
import { byId, showToast } from "./ui.ts";

function refusal(parsed: Exclude<ParsedToken, { ok: true }>): string {
  return parsed.reason === "expired" ? t.signin.expired(dateTime(parsed.expiredAt)) : t.signin[parsed.reason];
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
    const session = sessionFrom(raw);
    if (!session) return t.signin.unusable;
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
    if (waiting > 0 && !confirm(t.signin.confirmSignOut(count(waiting)))) return;
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

/** .dev.vars: the local secrets file wrangler reads (KEY=value lines). */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
export const DEV_VARS = path.join(ROOT, ".dev.vars");

export function parseDevVars(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split(/\r?\n/)) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*?)\s*$/.exec(line);
    if (!m || line.trimStart().startsWith("#")) continue;
    out[m[1]!] = m[2]!.replace(/^"(.*)"$/, "$1");
  }
  return out;
}

export function loadDevVars(file = DEV_VARS): Record<string, string> {
  return fs.existsSync(file) ? parseDevVars(fs.readFileSync(file, "utf8")) : {};
}

/**
 * Make sure .dev.vars holds the local secrets (a random AUTH_SECRET and dialer secret on first run),
 * keeping whatever is already there. Service URLs are not written here: `npm run dev` passes the
 * ports it started as wrangler --var, so a DATABASE_URL in this file always means "use my database".
 */
export function ensureLocalSecrets(file = DEV_VARS): Record<string, string> {
  const current = loadDevVars(file);
  const defaults: Record<string, string> = {
    AUTH_SECRET: randomBytes(32).toString("base64url"),
    DIALER_WEBHOOK_SECRET: `whsec_${randomBytes(24).toString("base64")}`,
  };
  const missing = Object.entries(defaults).filter(([k]) => !current[k]);
  if (missing.length > 0) {
    const existing = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "# Local secrets for wrangler dev (edit freely; see .dev.vars.example).\n";
    const body = existing.replace(/\n?$/, "\n") + missing.map(([k, v]) => `${k}=${v}`).join("\n") + "\n";
    fs.writeFileSync(file, body, { mode: 0o600 });
  }
  return { ...Object.fromEntries(missing), ...current };
}

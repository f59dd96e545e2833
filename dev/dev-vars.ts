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

/** Write .dev.vars, keeping any value already there (a developer's own DATABASE_URL, the AUTH_SECRET). */
export function ensureDevVars(defaults: Record<string, string>, file = DEV_VARS): Record<string, string> {
  const current = loadDevVars(file);
  const merged: Record<string, string> = { AUTH_SECRET: randomBytes(32).toString("base64url"), ...defaults, ...current };
  const body = [
    "# Local secrets for wrangler dev (written by `npm run dev`; edit freely, values here win).",
    ...Object.entries(merged).map(([k, v]) => `${k}=${v}`),
    "",
  ].join("\n");
  if (body !== (fs.existsSync(file) ? fs.readFileSync(file, "utf8") : "")) fs.writeFileSync(file, body, { mode: 0o600 });
  return merged;
}

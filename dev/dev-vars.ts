/** .dev.vars: the local secrets file wrangler reads (KEY=value lines, parsed the way wrangler parses them). */
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), "..");
export const DEV_VARS = path.join(ROOT, ".dev.vars");

/**
 * wrangler reads .dev.vars with dotenv's `parse` (dotenv 16.3.1, bundled in wrangler's cli.js), so this is
 * the same grammar, line for line: `KEY=value` or `KEY: value`, an optional `export ` prefix, values in
 * '…', "…" or `…` (may span lines; only in "…" are \n and \r turned into newlines), unquoted values end at
 * the first `#` and are trimmed, `#` lines and blank lines are skipped, a later key wins.
 * test/node/dev-vars.test.ts checks it against the parser in node_modules/wrangler.
 */
const LINE = /(?:^|^)\s*(?:export\s+)?([\w.-]+)(?:\s*=\s*?|:\s+?)(\s*'(?:\\'|[^'])*'|\s*"(?:\\"|[^"])*"|\s*`(?:\\`|[^`])*`|[^#\r\n]+)?\s*(?:#.*)?(?:$|$)/gm;

export function parseDevVars(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  const lines = text.replace(/\r\n?/gm, "\n");
  LINE.lastIndex = 0;
  let m: RegExpExecArray | null;
  while ((m = LINE.exec(lines)) !== null) {
    let value = (m[2] ?? "").trim();
    const quote = value[0];
    value = value.replace(/^(['"`])([\s\S]*)\1$/gm, "$2");
    if (quote === '"') value = value.replace(/\\n/g, "\n").replace(/\\r/g, "\r");
    out[m[1]!] = value;
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
 * `onGenerated` hears which keys were made up and written (none: not called).
 */
export function ensureLocalSecrets(file = DEV_VARS, onGenerated?: (keys: string[], file: string) => void): Record<string, string> {
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
    onGenerated?.(missing.map(([k]) => k), file);
  }
  return { ...current, ...Object.fromEntries(missing) };
}

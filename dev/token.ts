/**
 * `npm run token -- --team T --user U --role field|manager|admin [--name N] [--ttl SECONDS]`
 * `npm run token -- --role operator --user U [--ttl SECONDS]` (deployment-wide: every team's metrics,
 * `/metrics`, tokens for any team; minted only here, with the secret, never through the API)
 * prints a token signed with .dev.vars' AUTH_SECRET, and nothing else, on stdout. The lifetime may not
 * pass the role's maximum (field 30 days, others 12 h; TOKEN_MAX_TTL_FIELD_S / TOKEN_MAX_TTL_S in .dev.vars).
 */
import { maxTtl as maxTtlOf } from "../common/config.ts";
import { parseArgs } from "node:util";
import { z } from "zod";
import { ANY_TEAM, ROLES, signToken, tokenClaims, type MaxTtl } from "../protocol/auth.ts";
import { ensureLocalSecrets } from "./dev-vars.ts";

const usage = `usage: npm run token -- --team T --user U --role ${ROLES.join("|")} [--name N] [--ttl S]  (an operator takes no --team)`;
function fail(problems: string[]): never {
  process.stderr.write(`${usage}\n${problems.join("\n")}\n`);
  process.exit(2);
}

function readArgs() {
  try {
    return parseArgs({
      options: {
        team: { type: "string" },
        user: { type: "string" },
        role: { type: "string", default: "field" },
        name: { type: "string" },
        ttl: { type: "string", default: String(12 * 3600) },
        help: { type: "boolean", short: "h" },
      },
    }).values;
  } catch (err) {
    // An unknown option or a missing value: the usage line, not a stack trace.
    return fail([err instanceof Error ? err.message : String(err)]);
  }
}
const values = readArgs();
if (values.help) {
  process.stdout.write(`${usage}\n`);
  process.exit(0);
}

const secrets = ensureLocalSecrets();
// The same caps the Worker enforces (common/config.ts), from .dev.vars when it sets them.
const maxTtl: MaxTtl = maxTtlOf(secrets);

if (values.role === "operator" && values.team !== undefined) fail(["--team: an operator token is for every team; leave --team out"]);
const claims = tokenClaims.safeParse({
  team: values.role === "operator" ? ANY_TEAM : values.team,
  sub: values.user,
  role: values.role,
  ...(values.name ? { name: values.name } : {}),
  // Placeholders so the claims schema checks the identifiers; signToken sets the real ones.
  iat: 1,
  exp: 2,
  jti: "placeholder",
});
if (!claims.success) fail(claims.error.issues.map((i) => `--${i.path[0] === "sub" ? "user" : String(i.path[0])}: ${i.message}`));
const ttlSeconds = Number(values.ttl);
if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) fail(["--ttl must be a positive whole number of seconds"]);
if (ttlSeconds > maxTtl[claims.data.role]) fail([`--ttl: a ${claims.data.role} token lives at most ${maxTtl[claims.data.role]} s`]);
const { iat: _iat, exp: _exp, jti: _jti, aud: _aud, ...identity } = claims.data;
process.stdout.write(`${await signToken({ ...identity, ttlSeconds }, secrets.AUTH_SECRET!, maxTtl)}\n`);

/**
 * `npm run token -- --team T --user U --role field|manager|admin [--name N] [--ttl SECONDS]`
 * `npm run token -- --role operator --user U [--ttl SECONDS]` (deployment-wide: every team's metrics,
 * `/metrics`, tokens for any team; minted only here, with the secret, never through the API)
 * prints a token, and nothing else, on stdout. It is signed with AUTH_SECRET from the environment when set
 * (`AUTH_SECRET=… npm run token …` for a deployed Worker), else from .dev.vars (what `npm run dev` uses);
 * with neither, a random one is generated into .dev.vars and stderr says so. The lifetime may not pass the
 * role's maximum (field 30 days, others 12 h; TOKEN_MAX_TTL_FIELD_S / TOKEN_MAX_TTL_S from the environment,
 * else .dev.vars). FIELDPULSE_DEV_VARS names another .dev.vars file (the tests use it).
 */
import { maxTtl as maxTtlOf } from "../common/config.ts";
import { parseArgs } from "node:util";
import { z } from "zod";
import { ANY_TEAM, ROLES, signToken, tokenClaims, type MaxTtl } from "../protocol/auth.ts";
import { DEV_VARS, ensureLocalSecrets, loadDevVars } from "./dev-vars.ts";

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

const devVarsFile = process.env.FIELDPULSE_DEV_VARS || DEV_VARS;
const fromEnv = (key: string) => (process.env[key] ? { [key]: process.env[key] } : {});
// The environment first (as db:migrate takes DATABASE_URL), then .dev.vars; generated only when neither has one.
const secrets: Record<string, string> = {
  ...(process.env.AUTH_SECRET ? loadDevVars(devVarsFile) : ensureLocalSecrets(devVarsFile, (keys, file) => {
    if (keys.includes("AUTH_SECRET")) {
      process.stderr.write(`npm run token: no AUTH_SECRET in the environment or ${file}, so a new random one was written there; tokens signed with it work only against a Worker with that secret (npm run dev reads that file; for a deployed Worker run AUTH_SECRET=<its secret> npm run token …)\n`);
    }
  })),
  ...fromEnv("AUTH_SECRET"),
  ...fromEnv("TOKEN_MAX_TTL_S"),
  ...fromEnv("TOKEN_MAX_TTL_FIELD_S"),
};
// The same caps the Worker enforces (common/config.ts).
let maxTtl: MaxTtl;
try {
  maxTtl = maxTtlOf(secrets);
} catch (err) {
  process.stderr.write(`npm run token: ${err instanceof Error ? err.message : String(err)} (in the environment or ${devVarsFile})\n`);
  process.exit(2);
}

if (ttlSeconds > maxTtl[claims.data.role]) fail([`--ttl: a ${claims.data.role} token lives at most ${maxTtl[claims.data.role]} s`]);
const { iat: _iat, exp: _exp, jti: _jti, aud: _aud, ...identity } = claims.data;
process.stdout.write(`${await signToken({ ...identity, ttlSeconds }, secrets.AUTH_SECRET!, maxTtl)}\n`);

/**
 * `npm run token -- --team T --user U --role field|manager|admin [--name N] [--ttl SECONDS]`
 * prints a token signed with .dev.vars' AUTH_SECRET, and nothing else, on stdout.
 */
import { parseArgs } from "node:util";
import { ROLES, signToken, tokenClaims } from "../protocol/auth.ts";
import { ensureLocalSecrets } from "./dev-vars.ts";

const { values } = parseArgs({
  options: {
    team: { type: "string" },
    user: { type: "string" },
    role: { type: "string", default: "field" },
    name: { type: "string" },
    ttl: { type: "string", default: String(12 * 3600) },
  },
});

const claims = tokenClaims.omit({ exp: true, iat: true }).safeParse({
  team: values.team,
  sub: values.user,
  role: values.role,
  ...(values.name ? { name: values.name } : {}),
});
const ttlSeconds = Number(values.ttl);
if (!claims.success || !Number.isInteger(ttlSeconds) || ttlSeconds <= 0) {
  const problems = claims.success ? ["--ttl must be a positive whole number of seconds"] : claims.error.issues.map((i) => `--${i.path[0] === "sub" ? "user" : String(i.path[0])}: ${i.message}`);
  process.stderr.write(`usage: npm run token -- --team T --user U --role ${ROLES.join("|")} [--name N] [--ttl S]\n${problems.join("\n")}\n`);
  process.exit(2);
}
const { AUTH_SECRET } = ensureLocalSecrets();
process.stdout.write(`${await signToken({ ...claims.data, ttlSeconds }, AUTH_SECRET!)}\n`);

// .dev.vars as `npm run token` reads it must be what wrangler (dotenv) reads, or the tool signs tokens the
// Worker refuses (deploy finding M2); and `npm run token` takes AUTH_SECRET from the environment first (M1).
import { execFile } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { verify } from "hono/jwt";
import { afterAll, describe, expect, it } from "vitest";
import { ensureLocalSecrets, parseDevVars, ROOT } from "../../dev/dev-vars.ts";

/** The dotenv `parse` wrangler bundles (what it reads .dev.vars with), taken out of node_modules/wrangler. */
function wranglersParser(): (src: string) => Record<string, string> {
  const cli = fs.readFileSync(path.join(ROOT, "node_modules/wrangler/wrangler-dist/cli.js"), "utf8");
  const start = cli.indexOf("node_modules/dotenv/lib/main.js");
  expect(start, "wrangler no longer bundles dotenv: check how it reads .dev.vars").toBeGreaterThan(0);
  const module = cli.slice(start, start + 20_000);
  const line = /var LINE = (\/.*\/[gm]+);\n/.exec(module);
  const fn = /function (parse\d*)\(src\) \{[\s\S]*?\n {4}\}\n/.exec(module);
  expect(line && fn, "dotenv's parse not found in wrangler's cli.js").toBeTruthy();
  return new Function(`var LINE = ${line![1]};\n${fn![0]}\nreturn ${fn![1]};`)() as (src: string) => Record<string, string>;
}

const CASES: [string, string, Record<string, string>][] = [
  // The finding's two cases: a quoted base64 secret and an inline comment.
  ["single-quoted base64", "AUTH_SECRET='Zm9vYmFyYmF6cXV4+/=='\n", { AUTH_SECRET: "Zm9vYmFyYmF6cXV4+/==" }],
  ["inline comment", "AUTH_SECRET=Zm9vYmFyYmF6cXV4  # prod key from 1Password\n", { AUTH_SECRET: "Zm9vYmFyYmF6cXV4" }],
  ["double quotes", 'AUTH_SECRET="a b=c"\n', { AUTH_SECRET: "a b=c" }],
  ["# inside quotes is kept", "A='x # y' # comment\nB=\"p#q\"\n", { A: "x # y", B: "p#q" }],
  ["export prefix, spaces around =", "export AUTH_SECRET = s3cret\n", { AUTH_SECRET: "s3cret" }],
  ["blank and comment lines, CRLF", "# a comment\r\n\r\n  # indented comment\r\nA=1\r\n\r\nB=2\r\n", { A: "1", B: "2" }],
  ["empty values", "A=\nB=''\nC=\"\"\n", { A: "", B: "", C: "" }],
  ["later key wins", "AUTH_SECRET=old\nAUTH_SECRET=new\n", { AUTH_SECRET: "new" }],
  ["\\n expands in double quotes only", "A=\"x\\ny\"\nB='x\\ny'\n", { A: "x\ny", B: "x\\ny" }],
  ["whitsec with = padding", "DIALER_WEBHOOK_SECRET=whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw==\n", { DIALER_WEBHOOK_SECRET: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw==" }],
  ["URL with ? and &", "DATABASE_URL=postgres://u:p@h:5432/db?sslmode=require&x=1\n", { DATABASE_URL: "postgres://u:p@h:5432/db?sslmode=require&x=1" }],
  ["multi-line double-quoted", 'KEY="line1\nline2"\nNEXT=1\n', { KEY: "line1\nline2", NEXT: "1" }],
];

describe("parseDevVars", () => {
  const wrangler = wranglersParser();
  for (const [name, text, expected] of CASES) {
    it(`${name}: as expected and as wrangler reads it`, () => {
      expect(parseDevVars(text)).toEqual(expected);
      expect(parseDevVars(text)).toEqual({ ...wrangler(text) });
    });
  }
  it("reads .dev.vars.example as wrangler does", () => {
    const text = fs.readFileSync(path.join(ROOT, ".dev.vars.example"), "utf8");
    expect(parseDevVars(text)).toEqual({ ...wrangler(text) });
  });
});

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "fp-dev-vars-"));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** `npm run token` as a user runs it: a child process, with this environment only. */
function token(env: Record<string, string>, args = ["--team", "demo", "--user", "u1", "--role", "manager"]) {
  const base: Record<string, string | undefined> = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(AUTH_SECRET|TOKEN_MAX_TTL.*|FIELDPULSE_DEV_VARS)$/.test(k)));
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
    execFile(path.join(ROOT, "node_modules/.bin/tsx"), ["dev/token.ts", ...args], { cwd: ROOT, env: { ...base, ...env } as NodeJS.ProcessEnv }, (err: Error | null, stdout: string, stderr: string) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}
const claimsOf = (jwt: string, secret: string) => verify(jwt.trim(), secret, "HS256");

describe("npm run token's secret", () => {
  it("takes AUTH_SECRET from the environment, over .dev.vars, and writes nothing", async () => {
    const file = path.join(tmp, "env.dev.vars");
    fs.writeFileSync(file, "AUTH_SECRET=local-one\n");
    const r = await token({ AUTH_SECRET: "prod-secret-XYZ", FIELDPULSE_DEV_VARS: file });
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const claims = await claimsOf(r.stdout, "prod-secret-XYZ");
    expect(claims).toMatchObject({ team: "demo", sub: "u1", role: "manager" });
    await expect(claimsOf(r.stdout, "local-one")).rejects.toThrow();
    expect(fs.readFileSync(file, "utf8")).toBe("AUTH_SECRET=local-one\n");

    // No .dev.vars at all: the environment's secret, and none is created.
    const none = path.join(tmp, "absent.dev.vars");
    const r2 = await token({ AUTH_SECRET: "prod-secret-XYZ", FIELDPULSE_DEV_VARS: none });
    expect([r2.code, r2.stderr]).toEqual([0, ""]);
    await claimsOf(r2.stdout, "prod-secret-XYZ");
    expect(fs.existsSync(none)).toBe(false);
  });

  it("signs with a quoted or commented secret in .dev.vars as the Worker reads it", async () => {
    for (const line of ["AUTH_SECRET='Zm9vYmFyYmF6cXV4+/=='", "AUTH_SECRET=Zm9vYmFyYmF6cXV4+/==  # prod key from 1Password", "export AUTH_SECRET=\"Zm9vYmFyYmF6cXV4+/==\""]) {
      const file = path.join(tmp, "quoted.dev.vars");
      fs.writeFileSync(file, `# mine\n\n${line}\nDIALER_WEBHOOK_SECRET=whsec_x\n`);
      const r = await token({ FIELDPULSE_DEV_VARS: file });
      expect([r.code, r.stderr], line).toEqual([0, ""]);
      await claimsOf(r.stdout, "Zm9vYmFyYmF6cXV4+/==");
    }
  });

  it("with no secret anywhere, generates one into .dev.vars and says so on stderr, in one line", async () => {
    const file = path.join(tmp, "fresh.dev.vars");
    const r = await token({ FIELDPULSE_DEV_VARS: file });
    expect(r.code).toBe(0);
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).toContain(file);
    expect(r.stderr).toMatch(/new random one.*work only against a Worker with that secret/);
    const written = parseDevVars(fs.readFileSync(file, "utf8")).AUTH_SECRET!;
    expect(written.length).toBeGreaterThan(20);
    await claimsOf(r.stdout, written);

    // Next time it is read, not generated again: silent, same secret.
    const again = await token({ FIELDPULSE_DEV_VARS: file });
    expect([again.code, again.stderr]).toEqual([0, ""]);
    await claimsOf(again.stdout, written);
  });

  it("refuses bad arguments before creating any file", async () => {
    const file = path.join(tmp, "untouched.dev.vars");
    const r = await token({ FIELDPULSE_DEV_VARS: file }, ["--role", "operator", "--team", "x", "--user", "u"]);
    expect(r.code).toBe(2);
    expect(fs.existsSync(file)).toBe(false);
  });

  it("keeps the caps from the environment over .dev.vars", async () => {
    const file = path.join(tmp, "caps.dev.vars");
    fs.writeFileSync(file, "AUTH_SECRET=s\nTOKEN_MAX_TTL_S=43200\n");
    const r = await token({ FIELDPULSE_DEV_VARS: file, TOKEN_MAX_TTL_S: "3600" }, ["--team", "demo", "--user", "u1", "--role", "manager", "--ttl", "7200"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("at most 3600 s");
  });
});

describe("ensureLocalSecrets", () => {
  it("an empty AUTH_SECRET= line is filled, and the value returned is the one the file now gives", () => {
    const file = path.join(tmp, "empty.dev.vars");
    fs.writeFileSync(file, "AUTH_SECRET=\nDIALER_WEBHOOK_SECRET=whsec_a\n");
    const heard: string[] = [];
    const got = ensureLocalSecrets(file, (keys) => heard.push(...keys));
    expect(heard).toEqual(["AUTH_SECRET"]);
    expect(got.AUTH_SECRET).toBeTruthy();
    expect(parseDevVars(fs.readFileSync(file, "utf8")).AUTH_SECRET).toBe(got.AUTH_SECRET);
  });
});

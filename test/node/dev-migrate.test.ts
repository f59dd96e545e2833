// `npm run db:migrate` against a database it cannot reach (deploy finding L3): one line naming where and
// why, exit 1, no stack trace and no password.
import { execFile } from "node:child_process";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../../dev/dev-vars.ts";
import { freePort } from "../../dev/net.ts";

function migrate(url: string) {
  return new Promise<{ code: number; stdout: string; stderr: string }>((resolve) =>
    execFile(path.join(ROOT, "node_modules/.bin/tsx"), ["dev/migrate.ts"], { cwd: ROOT, env: { ...process.env, DATABASE_URL: url } }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code) : 0, stdout, stderr })),
  );
}

describe("npm run db:migrate failures", () => {
  it("nothing listening: host:port and ECONNREFUSED in one line, exit 1", async () => {
    const port = await freePort();
    const r = await migrate(`postgres://fp:hunter2@127.0.0.1:${port}/fp_db`);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.stderr).toBe(`npm run db:migrate failed: 127.0.0.1:${port}/fp_db: connect ECONNREFUSED 127.0.0.1:${port}\n`);
  });

  it("an unknown host: ENOTFOUND; a malformed URL: said so, without echoing it", async () => {
    const r = await migrate("postgres://fp:hunter2@no-such-host.invalid:5432/fp_db");
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^npm run db:migrate failed: no-such-host\.invalid:5432\/fp_db: .*(ENOTFOUND|EAI_AGAIN).*\n$/);
    const bad = await migrate("postgres://postgres:S3cr3t/pw?x@127.0.0.1/x");
    expect(bad.code).toBe(1);
    expect(bad.stderr.split("\n")).toHaveLength(2);
    expect(bad.stderr).toContain("not a valid URL");
    expect(bad.stderr).not.toContain("S3cr3t");
  });
});

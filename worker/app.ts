import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { secureHeaders } from "hono/secure-headers";
import { errorBody } from "../protocol/errors.ts";
import { errorMessage, log } from "../common/log.ts";
import { admin } from "./admin.ts";
import type { AuthVars } from "./auth.ts";
import { compat } from "./compat.ts";
import { deviceAdmin } from "./devices.ts";
import { ApiError } from "./errors.ts";
import { health } from "./health.ts";
import { history } from "./history.ts";
import { ingest } from "./ingest.ts";
import { knocks } from "./knocks.ts";
import { live } from "./live.ts";
import { metrics } from "./metrics.ts";

export const app = new Hono<{ Bindings: Env; Variables: AuthVars }>();

/** What the Worker answers itself; everything else is a static asset (headers from the assets' `_headers`). */
const isApiPath = (path: string) => path.startsWith("/v1/") || path === "/healthz" || path === "/metrics";

// API answers are data, never a page: nothing may frame, sniff or cache them (issue 11).
const apiSecurity = secureHeaders({
  contentSecurityPolicy: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] },
  xFrameOptions: "DENY",
  referrerPolicy: "no-referrer",
});
app.use("*", async (c, next) => {
  if (!isApiPath(c.req.path)) return next();
  await apiSecurity(c, next);
  if (c.res.status !== 101) c.header("Cache-Control", "no-store");
});

app.route("/", health);
app.route("/", ingest);
app.route("/", live);
app.route("/", knocks);
app.route("/", history);
app.route("/", metrics);
app.route("/", admin);
app.route("/", compat);
app.route("/", deviceAdmin);

app.notFound((c) => {
  const path = new URL(c.req.url).pathname;
  if (isApiPath(path)) {
    return c.json(errorBody("not_found", `no route ${c.req.method} ${path}`), 404);
  }
  return c.env.ASSETS.fetch(c.req.raw);
});

app.onError((err, c) => {
  if (err instanceof ApiError) {
    for (const [k, v] of Object.entries(err.extra?.headers ?? {})) c.header(k, v);
    return c.json({ ...err.extra?.body, ...errorBody(err.code, err.message, err.issues) }, err.status);
  }
  if (err instanceof HTTPException && err.status < 500) {
    return c.json(errorBody("bad_request", err.message || "bad request"), err.status);
  }
  // Unknown: a bug or an outage. Log it whole, answer without a stack trace; the client retries.
  log({ event: "unhandled_error", method: c.req.method, path: new URL(c.req.url).pathname, error: errorMessage(err), stack: err instanceof Error ? err.stack : undefined });
  return c.json(errorBody("internal", "something went wrong on our side; retry later"), 500);
});

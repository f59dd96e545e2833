import { errorMessage, log } from "../common/log.ts";
import { app } from "./app.ts";
import { superviseFlushes } from "./cron.ts";
import { applyRetention, RETENTION_EVERY_MIN } from "./retention.ts";

export { TeamHub } from "../durable-objects/team-hub.ts";

export default {
  fetch: app.fetch,
  async scheduled(controller, env) {
    // Each on its own: a failing safety net (a bad Redis URL, say) must not stop retention, nor the reverse.
    const retentionDue = Math.floor(controller.scheduledTime / 60_000) % RETENTION_EVERY_MIN === 0;
    const results = await Promise.allSettled([
      superviseFlushes(env, controller.scheduledTime),
      retentionDue ? applyRetention(env, controller.scheduledTime) : Promise.resolve(null),
    ]);
    for (const [i, r] of results.entries()) {
      if (r.status === "rejected") log({ event: "cron_failed", part: i === 0 ? "flush supervisor" : "retention", error: errorMessage(r.reason) });
    }
  },
} satisfies ExportedHandler<Env>;

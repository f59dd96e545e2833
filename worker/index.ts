import { app } from "./app.ts";
import { superviseFlushes } from "./cron.ts";
import { applyRetention } from "./retention.ts";

export { TeamHub } from "../durable-objects/team-hub.ts";

export default {
  fetch: app.fetch,
  async scheduled(controller, env) {
    await superviseFlushes(env, controller.scheduledTime);
    // Retention once an hour is plenty; it works in bounded batches.
    if (new Date(controller.scheduledTime).getUTCMinutes() === 0) await applyRetention(env, controller.scheduledTime);
  },
} satisfies ExportedHandler<Env>;

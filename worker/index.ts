import { app } from "./app.ts";
import { superviseFlushes } from "./cron.ts";

export { TeamHub } from "../durable-objects/team-hub.ts";

export default {
  fetch: app.fetch,
  async scheduled(controller, env) {
    await superviseFlushes(env, controller.scheduledTime);
  },
} satisfies ExportedHandler<Env>;

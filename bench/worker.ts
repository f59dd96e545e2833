/**
 * The Worker as benchmarks and drills run it (`wrangler dev bench/worker.ts`): production's entry plus the
 * seed story's naive route as a baseline, and a TeamHub that the crash drill can stop between COMMIT and
 * DELETE. `wrangler deploy` bundles worker/index.ts, which has neither (test/node/bundle.test.ts checks).
 */
import { TeamHub as ProductionTeamHub } from "../durable-objects/team-hub.ts";
import { log } from "../common/log.ts";
import production from "../worker/index.ts";
import { naive } from "./naive-route.ts";

type BenchEnv = Env & { DRILL_PAUSE_AFTER_COMMIT?: string };

export class TeamHub extends ProductionTeamHub {
  /** With DRILL_PAUSE_AFTER_COMMIT=1: say a batch is committed but not deleted, then hold so the drill can kill the process there. */
  protected override async committed(teamId: string, rows: number): Promise<void> {
    if ((this.env as BenchEnv).DRILL_PAUSE_AFTER_COMMIT !== "1" || rows === 0) return;
    log({ event: "drill_committed_not_deleted", teamId, rows });
    await new Promise((resolve) => setTimeout(resolve, 30_000));
  }
}

export default {
  fetch(request, env, ctx) {
    if (new URL(request.url).pathname === "/v1/bench/naive-events") return naive.fetch(request, env, ctx);
    return production.fetch(request, env, ctx);
  },
  scheduled: production.scheduled,
} satisfies ExportedHandler<Env>;

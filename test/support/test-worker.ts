/**
 * The Worker as the workerd tests run it: production's entry, with a TeamHub that lets a test narrow its
 * tunables and stop it between COMMIT and DELETE. Only the test bundle has these; wrangler deploy never sees them.
 */
import { TeamHub as ProductionTeamHub } from "../../durable-objects/team-hub.ts";
import type { Tunables } from "../../common/config.ts";

export { default } from "../../worker/index.ts";

export class TeamHub extends ProductionTeamHub {
  /** Runs after Postgres COMMIT, before the buffer DELETE (a crash there, a buffer held full). */
  afterCommit: (() => void | Promise<void>) | null = null;

  /** Narrow this object's tunables (they are read from wrangler vars once per object). */
  tune(overrides: Partial<Tunables>): void {
    this.tunables = { ...this.tunables, ...overrides };
  }

  get currentTunables(): Tunables {
    return this.tunables;
  }

  protected override async committed(teamId: string, rows: number): Promise<void> {
    await super.committed(teamId, rows);
    await this.afterCommit?.();
  }
}

import type { Issue } from "./events.ts";

/** The one error shape of every endpoint (README "API", docs/architecture.md "Ingest"). */
export interface ErrorBody {
  error: { code: string; message: string; issues?: Issue[] };
}

export function errorBody(code: string, message: string, issues?: Issue[]): ErrorBody {
  return { error: { code, message, ...(issues && issues.length > 0 ? { issues } : {}) } };
}

/** One JSON object per line: what Workers Logs and `wrangler tail` index best. */
export function log(fields: Record<string, unknown> & { event: string }): void {
  console.log(JSON.stringify({ ...fields, t: new Date().toISOString() }));
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) return err.message;
  // The Neon driver rejects with a WebSocket ErrorEvent when it cannot reach the proxy.
  if (typeof err === "object" && err !== null && "message" in err && typeof err.message === "string" && err.message) {
    return err.message;
  }
  if (typeof err === "object" && err !== null && "type" in err) return `${String(err.type)} event (connection failed)`;
  return String(err);
}

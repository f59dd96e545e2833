import type { Issue } from "../protocol/events.ts";

type ClientStatus = 400 | 401 | 403 | 404 | 409 | 413 | 415 | 429 | 503;

/** An error a client caused or must act on; app.onError maps it to the error shape of protocol/errors.ts. */
export class ApiError extends Error {
  constructor(
    readonly status: ClientStatus,
    readonly code: string,
    message: string,
    readonly issues?: Issue[],
    readonly extra?: { headers?: Record<string, string>; body?: Record<string, unknown> },
  ) {
    super(message);
  }
}

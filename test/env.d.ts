declare module "cloudflare:test" {
  // The Worker's own bindings are what the tests see.
  interface ProvidedEnv extends Env {}
}

declare module "vitest" {
  export interface ProvidedContext {
    /** The Node control server: SQL through node `pg`, the fault proxy's switch. */
    controlUrl: string;
  }
}
export {};

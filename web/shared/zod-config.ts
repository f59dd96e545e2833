/**
 * Imported first by every page entry (and the service worker): zod parses without compiling parsers from
 * strings, so its probe for `new Function` never runs into the pages' CSP (script-src 'self', no eval).
 */
import { z } from "zod/mini";

z.config({ jitless: true });

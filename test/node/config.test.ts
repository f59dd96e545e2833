import { describe, expect, it } from "vitest";
import { readConfig } from "../../common/config.ts";

describe("readConfig: every var by name, never silently replaced", () => {
  it("takes plain decimals (spaces around them too); a blank value is unset (the default)", () => {
    expect(readConfig({ FLUSH_THRESHOLD_ROWS: "30", KNOCK_MAX_AGE_S: "0.5", RETENTION_DAYS: " 12 " })).toMatchObject({ FLUSH_THRESHOLD_ROWS: 30, KNOCK_MAX_AGE_S: 0.5, RETENTION_DAYS: 12 });
    expect(readConfig({ FLUSH_THRESHOLD_ROWS: "" }).FLUSH_THRESHOLD_ROWS).toBe(1_000);
  });

  it("refuses what Number() would have read as something else (0x10, 1e3) and what is no number, naming the var", () => {
    for (const v of ["abc", "0x10", "1e3", "-5", "0.5", "Infinity"]) {
      expect(() => readConfig({ FLUSH_THRESHOLD_ROWS: v }), v).toThrow(/^bad configuration: FLUSH_THRESHOLD_ROWS must be a whole number \(like 30\)$/);
    }
    expect(() => readConfig({ KNOCK_MAX_AGE_S: "5s" })).toThrow(/KNOCK_MAX_AGE_S must be a plain decimal number/);
    // A number out of range keeps zod's own words.
    expect(() => readConfig({ TOKEN_MAX_TTL_S: "0" })).toThrow(/TOKEN_MAX_TTL_S Too small: expected number to be >0/);
  });
});

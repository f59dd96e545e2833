import { describe, expect, it } from "vitest";
import { normalisePhone, phoneRegion } from "../../protocol/phone.ts";

describe("normalisePhone", () => {
  it("refuses what is not a phone number", () => {
    for (const input of ["...", "", "   ", "12", "+1 555 0100", "+44 12", "abc"]) {
      expect(normalisePhone(input, "US"), input).toMatchObject({ ok: false });
    }
    expect(normalisePhone("...", "US")).toEqual({ ok: false, message: "is not a phone number" });
  });

  it("turns a valid national number into E.164 with a default region", () => {
    expect(normalisePhone("(202) 555-0143", "US")).toEqual({ ok: true, e164: "+12025550143" });
    expect(normalisePhone("612 34 56 78", "es")).toEqual({ ok: true, e164: "+34612345678" });
    expect(normalisePhone("030 1234567", "DE")).toEqual({ ok: true, e164: "+49301234567" });
  });

  it("accepts international numbers with or without a region, whatever the region says", () => {
    expect(normalisePhone("+1 202-555-0143")).toEqual({ ok: true, e164: "+12025550143" });
    expect(normalisePhone("+34 612 345 678", "US")).toEqual({ ok: true, e164: "+34612345678" });
    expect(normalisePhone(" +12025550143 ")).toEqual({ ok: true, e164: "+12025550143" });
  });

  it("without a region, refuses national numbers instead of guessing the country", () => {
    expect(normalisePhone("(202) 555-0143")).toEqual({ ok: false, message: "must start with + and the country code" });
    expect(normalisePhone("(202) 555-0143", "")).toMatchObject({ ok: false });
  });

  it("names an unknown region rather than ignoring it", () => {
    expect(normalisePhone("(202) 555-0143", "XX")).toMatchObject({ ok: false, message: expect.stringContaining("XX") });
    expect(phoneRegion(" us ")).toBe("US");
    expect(phoneRegion("USA")).toBeUndefined();
  });
});

describe("normalisePhone says why a number is refused", () => {
  it("a number longer than E.164 allows is told so, not just \"not valid\"", () => {
    for (const input of ["+31 6 1234 5678 9012 3456", "+4912345678901234567", "+49 30 1234567890123"]) {
      expect(normalisePhone(input, "US"), input).toEqual({ ok: false, message: "is longer than 15 digits (E.164)" });
      expect(normalisePhone(input), input).toEqual({ ok: false, message: "is longer than 15 digits (E.164)" });
    }
  });

  it("a national number that is not valid in the region set says it was read as that region's", () => {
    expect(normalisePhone("06 12345678", "US")).toEqual({
      ok: false,
      message: "is not a valid number for US: add + and the country code, or change the region in Settings",
    });
    // An international number keeps the plain message: the region played no part.
    expect(normalisePhone("+44 12", "US")).toEqual({ ok: false, message: "is not a valid phone number" });
  });
});

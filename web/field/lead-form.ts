import type { Issue, LeadEvent } from "../../protocol/events.ts";
import type { Position } from "./event-factory.ts";
import type { LeadInput } from "./leads.ts";
import { loadLeads } from "./lazy-leads.ts";
import { t } from "./i18n/index.ts";
import { byId, say, showToast } from "./ui.ts";

/**
 * The lead form. The phone number is normalised to E.164 here (protocol/phone.ts, with the region from
 * Settings) and the lead is then checked with the server's own `leadEvent` schema; each message shows under
 * its field, which names it with aria-describedby.
 */
export interface LeadFormDeps {
  /** Where the canvasser is, if known: the lead is tagged with it. */
  position(): Position | null;
  /** The Settings' region for national numbers: "auto" (the phone's locale), "none" (only +country), or "US", "ES", … */
  phoneRegionSetting(): string;
  record(event: LeadEvent, recent: { title: string; detail?: string }): Promise<void>;
}

const FIELDS = ["name", "phone", "email", "address", "interest", "notes"] as const;
type Field = (typeof FIELDS)[number];
const LABEL: Record<Field, () => string> = {
  name: () => t.page.name, phone: () => t.page.phone, email: () => t.page.email,
  address: () => t.page.address, interest: () => t.page.interest, notes: () => t.page.notes,
};

function regionName(code: string): string {
  try {
    return new Intl.DisplayNames([t.lang, "en"], { type: "region" }).of(code) ?? code;
  } catch {
    return code;
  }
}

/** The catalogue's sentence for a field's problem; an unforeseen one keeps the schema's words. */
function messageFor(field: Field, message: string): string {
  if (field === "name" && message === "is required") return t.lead.required;
  if (field === "email") return t.lead.emailInvalid;
  if (field === "phone" && message.startsWith("must start with +")) return t.lead.phoneNeedsRegion;
  if (field === "phone" && message.startsWith("has an extension")) return t.lead.phoneExtension;
  if (field === "phone" && message.startsWith("is longer than")) return t.lead.phoneTooLong;
  // "is not a valid number for US: …" (protocol/phone.ts): the region by its name in the page's language.
  const region = field === "phone" ? /^is not a valid number for ([A-Z]{2})\b/.exec(message)?.[1] : undefined;
  if (region) return t.lead.phoneWrongRegion(regionName(region));
  if (field === "phone") return t.lead.phoneInvalid;
  return t.lead.other(LABEL[field](), message);
}

export function bindLeadForm(deps: LeadFormDeps): void {
  const form = byId("lead-form", HTMLFormElement);
  const card = byId("lead-card", HTMLDetailsElement);
  const errorFor = (field: string) => form.querySelector<HTMLElement>(`[data-error-for="${field}"]`);
  const inputsOf = (field: string) => [...form.querySelectorAll<HTMLInputElement | HTMLTextAreaElement>(`[name="${field}"]`)];

  const clearErrors = () => {
    for (const f of FIELDS) {
      const e = errorFor(f);
      if (e) e.textContent = "";
      for (const input of inputsOf(f)) input.removeAttribute("aria-invalid");
    }
  };
  const showErrors = (issues: Issue[]) => {
    const bad = new Set<Field>();
    for (const issue of issues) {
      const field = FIELDS.find((f) => f === issue.path.split(".")[0]);
      if (!field) continue;
      const e = errorFor(field);
      if (e && !e.textContent) e.textContent = messageFor(field, issue.message);
      for (const input of inputsOf(field)) input.setAttribute("aria-invalid", "true");
      bad.add(field);
    }
    // Focus moves to the first bad field in form order (not the order the checks ran in); its
    // aria-describedby reads the message out.
    const first = FIELDS.find((f) => bad.has(f));
    if (first) inputsOf(first)[0]?.focus();
  };

  // The phone-number metadata: in the background after the first screen, at once when the card opens.
  card.addEventListener("toggle", () => {
    if (card.open) void loadLeads().catch(() => {});
  });
  form.addEventListener("input", (e) => {
    const name = (e.target as HTMLInputElement | null)?.name;
    if (!name) return;
    const err = errorFor(name);
    if (err) err.textContent = "";
    for (const input of inputsOf(name)) input.removeAttribute("aria-invalid");
  });

  // One save at a time: a second tap while the first is saving (or while the lead module loads on a slow
  // connection) would make a second lead with its own id — and a second call from the dialer.
  let saving = false;
  const submitButton = form.querySelector<HTMLButtonElement>('button[type="submit"]');
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    if (saving) return;
    saving = true;
    if (submitButton) submitButton.disabled = true;
    void save().finally(() => {
      saving = false;
      if (submitButton) submitButton.disabled = false;
    });
  });

  const save = async (): Promise<void> => {
    clearErrors();
    const data = new FormData(form);
    const input: LeadInput = {};
    for (const f of FIELDS) {
      const v = data.get(f);
      if (typeof v === "string") input[f] = v;
    }
    let leads: Awaited<ReturnType<typeof loadLeads>>;
    try {
      leads = await loadLeads();
    } catch {
      // Offline before the app was ever fully cached: nothing typed is lost, the form stays filled.
      showToast(t.lead.notSaved(t.lead.formNotLoaded));
      return;
    }
    const issues: Issue[] = [];
    if (input.phone?.trim()) {
      const phone = leads.normalisePhone(input.phone, leads.resolvePhoneRegion(deps.phoneRegionSetting()));
      if (phone.ok) input.phone = phone.e164;
      else {
        issues.push({ path: "phone", message: phone.message });
        delete input.phone;
      }
    }
    const made = leads.makeLead(input, deps.position() ?? undefined);
    if (!made.ok || issues.length > 0) return showErrors([...issues, ...(made.ok ? [] : made.issues)]);
    const lead = made.event;
    const detail = [lead.phone, lead.email, lead.address].filter(Boolean).join(" · ");
    const interest = lead.interest ? t.page[lead.interest] : undefined;
    try {
      await deps.record(lead, { title: t.lead.title(lead.name, interest), ...(detail ? { detail } : {}) });
    } catch (err) {
      // Not stored: keep the form filled so nothing typed is lost.
      showToast(t.lead.notSaved(err instanceof Error ? err.message : String(err)));
      return;
    }
    form.reset();
    card.open = false;
    showToast(t.lead.saved(lead.name));
    say(t.lead.saved(lead.name));
  };
}

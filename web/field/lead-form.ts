import type { Issue, LeadEvent } from "../../protocol/events.ts";
import { makeLead, type LeadInput, type Position } from "./event-factory.ts";
import { byId, showToast } from "./ui.ts";

/** The lead form, checked with the server's own `leadEvent` schema; each message shows under its field. */
export interface LeadFormDeps {
  /** Where the canvasser is, if known: the lead is tagged with it. */
  position(): Position | null;
  record(event: LeadEvent, recent: { title: string; detail?: string }): Promise<void>;
}

const FIELDS = ["name", "phone", "email", "address", "interest", "notes"] as const;
const LABELS: Record<(typeof FIELDS)[number], string> = {
  name: "Name", phone: "Phone", email: "Email", address: "Address", interest: "Interest", notes: "Notes",
};

/** "is required" reads as "Name is required"; a full sentence from zod is shown as it is. */
function sentence(field: (typeof FIELDS)[number], message: string): string {
  return /^(is|must|has) /.test(message) ? `${LABELS[field]} ${message}` : message;
}

export function bindLeadForm(deps: LeadFormDeps): void {
  const form = byId("lead-form", HTMLFormElement);
  const card = byId("lead-card", HTMLDetailsElement);
  const errorFor = (field: string) => form.querySelector<HTMLElement>(`[data-error-for="${field}"]`);
  const inputOf = (field: string) => form.querySelector<HTMLInputElement | HTMLTextAreaElement>(`[name="${field}"]`);

  const clearErrors = () => {
    for (const f of FIELDS) {
      const e = errorFor(f);
      if (e) e.textContent = "";
      inputOf(f)?.removeAttribute("aria-invalid");
    }
  };
  const showErrors = (issues: Issue[]) => {
    let first: HTMLElement | null = null;
    for (const issue of issues) {
      const field = FIELDS.find((f) => f === issue.path.split(".")[0]);
      if (!field) continue;
      const e = errorFor(field);
      if (e && !e.textContent) e.textContent = sentence(field, issue.message);
      const input = inputOf(field);
      input?.setAttribute("aria-invalid", "true");
      first ??= input;
    }
    first?.focus();
  };

  form.addEventListener("input", (e) => {
    const name = (e.target as HTMLInputElement | null)?.name;
    if (!name) return;
    const err = errorFor(name);
    if (err) err.textContent = "";
    inputOf(name)?.removeAttribute("aria-invalid");
  });

  form.addEventListener("submit", async (e) => {
    e.preventDefault();
    clearErrors();
    const data = new FormData(form);
    const input: LeadInput = {};
    for (const f of FIELDS) {
      const v = data.get(f);
      if (typeof v === "string") input[f] = v;
    }
    const made = makeLead(input, deps.position() ?? undefined);
    if (!made.ok) return showErrors(made.issues);
    const lead = made.event;
    const detail = [lead.phone, lead.email, lead.address].filter(Boolean).join(" · ");
    try {
      await deps.record(lead, { title: `Lead · ${lead.name}${lead.interest ? ` (${lead.interest})` : ""}`, ...(detail ? { detail } : {}) });
    } catch (err) {
      // Not stored: keep the form filled so nothing typed is lost.
      showToast(`Lead NOT saved: ${err instanceof Error ? err.message : String(err)}`);
      return;
    }
    form.reset();
    card.open = false;
    showToast(`Lead saved: ${lead.name}`);
  });
}

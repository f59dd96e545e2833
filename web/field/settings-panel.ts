import { localeRegion } from "./i18n/format.ts";
import { t } from "./i18n/index.ts";
import { loadLeads } from "./lazy-leads.ts";
import { mergeSettings, saveSettings, type Settings } from "./settings.ts";
import { byId, showToast } from "./ui.ts";

/** The Settings panel: the GPS fix filter and the phone-number region (the rest is set through localStorage, see README). */
export function bindSettingsPanel(get: () => Settings, set: (next: Settings) => void): void {
  const form = byId("settings-form", HTMLFormElement);
  const distance = byId("set-min-distance", HTMLInputElement);
  const interval = byId("set-min-interval", HTMLInputElement);
  const region = byId("set-phone-region", HTMLSelectElement);

  const names = new Intl.DisplayNames([navigator.language, "en"], { type: "region" });
  const nameOf = (code: string) => {
    try {
      return names.of(code) ?? code;
    } catch {
      return code;
    }
  };
  const option = (value: string, label: string) => {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = label;
    return o;
  };
  // Until the panel first opens, the list holds what it must (the choice in force); the countries the
  // phone-number metadata knows come with it (lazy-leads.ts: usually loaded in the background by then).
  const regions = (auto: string | undefined, countries: readonly string[]) => {
    const chosen = get().phoneRegion;
    const codes = countries.length > 0 ? countries : /^[A-Z]{2}$/.test(chosen) ? [chosen] : [];
    region.replaceChildren(
      option("auto", t.settings.regionAuto(auto ? nameOf(auto) : localeRegion() ?? "?")),
      option("none", t.settings.regionNone),
      ...codes
        .map((code) => ({ code, name: nameOf(code) }))
        .sort((a, b) => a.name.localeCompare(b.name, navigator.language))
        .map(({ code, name }) => option(code, `${name} (${code})`)),
    );
    region.value = chosen;
  };
  regions(localeRegion(), []);
  let listed = false;
  const listCountries = () => {
    if (listed) return;
    void loadLeads()
      .then((leads) => {
        if (listed) return;
        listed = true;
        // Keep what the canvasser picked but has not saved yet.
        const picked = region.value;
        regions(leads.resolvePhoneRegion("auto"), leads.getCountries());
        region.value = picked;
      })
      .catch(() => {});
  };
  form.closest("details")?.addEventListener("toggle", listCountries);

  const fill = () => {
    distance.value = String(get().fix.minDistanceM);
    interval.value = String(get().fix.minIntervalS);
    region.value = get().phoneRegion;
  };
  fill();
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const next = mergeSettings({
      ...get(),
      fix: { minDistanceM: distance.valueAsNumber, minIntervalS: interval.valueAsNumber },
      phoneRegion: region.value,
    });
    saveSettings(next);
    set(next);
    fill();
    showToast(t.settings.saved);
  });
}

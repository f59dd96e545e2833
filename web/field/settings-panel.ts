import { getCountries } from "libphonenumber-js/min";
import { localeRegion } from "./i18n/format.ts";
import { t } from "./i18n/index.ts";
import { mergeSettings, resolvePhoneRegion, saveSettings, type Settings } from "./settings.ts";
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
  const auto = resolvePhoneRegion("auto");
  const option = (value: string, label: string) => {
    const o = document.createElement("option");
    o.value = value;
    o.textContent = label;
    return o;
  };
  region.replaceChildren(
    option("auto", t.settings.regionAuto(auto ? nameOf(auto) : localeRegion() ?? "?")),
    option("none", t.settings.regionNone),
    ...getCountries()
      .map((code) => ({ code, name: nameOf(code) }))
      .sort((a, b) => a.name.localeCompare(b.name, navigator.language))
      .map(({ code, name }) => option(code, `${name} (${code})`)),
  );

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

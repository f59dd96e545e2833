import { mergeSettings, saveSettings, type Settings } from "./settings.ts";
import { byId, showToast } from "./ui.ts";

/** The Settings panel: the GPS fix filter (the rest is set through localStorage, see README). */
export function bindSettingsPanel(get: () => Settings, set: (next: Settings) => void): void {
  const form = byId("settings-form", HTMLFormElement);
  const distance = byId("set-min-distance", HTMLInputElement);
  const interval = byId("set-min-interval", HTMLInputElement);
  const fill = () => {
    distance.value = String(get().fix.minDistanceM);
    interval.value = String(get().fix.minIntervalS);
  };
  fill();
  form.addEventListener("submit", (e) => {
    e.preventDefault();
    const next = mergeSettings({ ...get(), fix: { minDistanceM: distance.valueAsNumber, minIntervalS: interval.valueAsNumber } });
    saveSettings(next);
    set(next);
    fill();
    showToast("Settings saved");
  });
}

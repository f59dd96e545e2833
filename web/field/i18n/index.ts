import { z } from "zod/mini";
import { en, type Catalogue } from "./en.ts";
import { es } from "./es.ts";

/**
 * The catalogue for the phone's languages: the first of `navigator.languages` we have a file for, else
 * English. Chosen once at start; adding a language is a file and a line here.
 */
const CATALOGUES: Record<string, Catalogue> = { en, es };

export function pickCatalogue(languages: readonly string[]): Catalogue {
  for (const tag of languages) {
    const found = CATALOGUES[tag.toLowerCase().split("-")[0]!];
    if (found) return found;
  }
  return en;
}

export const t: Catalogue = pickCatalogue(typeof navigator === "undefined" ? [] : navigator.languages?.length ? navigator.languages : [navigator.language]);

// The schemas' own words (a note too long, a number out of range) in the page's language too: zod/mini loads
// no locale by itself, and without one every such message reads "Invalid input".
const SCHEMA_LOCALES: Record<string, () => ReturnType<typeof z.locales.en>> = { en: z.locales.en, es: z.locales.es };
z.config((SCHEMA_LOCALES[t.lang] ?? z.locales.en)());

type PageKey = keyof Catalogue["page"];
const isPageKey = (k: string | undefined): k is PageKey => k !== undefined && k in t.page;

/** Fill the static page: `data-i18n` → text, `data-i18n-label` → aria-label, `data-i18n-placeholder`. */
export function translatePage(root: ParentNode = document): void {
  document.documentElement.lang = t.lang;
  document.title = t.page.title;
  for (const el of root.querySelectorAll<HTMLElement>("[data-i18n]")) {
    if (isPageKey(el.dataset.i18n)) el.textContent = t.page[el.dataset.i18n];
  }
  for (const el of root.querySelectorAll<HTMLElement>("[data-i18n-label]")) {
    if (isPageKey(el.dataset.i18nLabel)) el.setAttribute("aria-label", t.page[el.dataset.i18nLabel]);
  }
  for (const el of root.querySelectorAll<HTMLElement>("[data-i18n-placeholder]")) {
    if (isPageKey(el.dataset.i18nPlaceholder)) el.setAttribute("placeholder", t.page[el.dataset.i18nPlaceholder]);
  }
}

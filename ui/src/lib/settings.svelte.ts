// The user's settings: interface language, annotator name, theme. Kept in localStorage; on the first
// start the language follows the system (navigator.language) and the theme the system's scheme.

export type Lang = 'en' | 'zh-CN';
export type Theme = 'light' | 'dark';

export interface Settings {
  lang: Lang;
  annotator: string;
  theme: Theme;
}

const KEY = 'finelab.settings';

/** The language for a system locale: Chinese locales get zh-CN, everything else English. */
export function langFor(locale: string | undefined | null): Lang {
  return locale && /^zh\b/i.test(locale) ? 'zh-CN' : 'en';
}

/** Settings from stored JSON, with the system's defaults for anything missing or invalid. */
export function parseSettings(stored: string | null, systemLocale: string | undefined, prefersDark: boolean): Settings {
  let raw: Partial<Settings> = {};
  try {
    raw = stored ? (JSON.parse(stored) as Partial<Settings>) : {};
  } catch {
    raw = {};
  }
  return {
    lang: raw.lang === 'en' || raw.lang === 'zh-CN' ? raw.lang : langFor(systemLocale),
    annotator: typeof raw.annotator === 'string' && raw.annotator.trim() ? raw.annotator : 'annotator',
    theme: raw.theme === 'light' || raw.theme === 'dark' ? raw.theme : prefersDark ? 'dark' : 'light',
  };
}

function load(): Settings {
  if (typeof window === 'undefined') return parseSettings(null, 'en', false);
  let stored: string | null = null;
  try {
    stored = localStorage.getItem(KEY);
  } catch {
    stored = null;
  }
  const dark = typeof matchMedia === 'function' && matchMedia('(prefers-color-scheme: dark)').matches;
  return parseSettings(stored, navigator.language, dark);
}

export const settings: Settings = $state(load());

/** The name typed in Settings while a signed-in session's name stands in for it (kept in storage). */
let ownAnnotator: string | null = null;

/** Someone signed in to a shared server labels under their own name, whatever Settings says. */
export function useSessionName(name: string): void {
  ownAnnotator ??= settings.annotator;
  settings.annotator = name;
}

/** Stores the settings and applies the theme and language to the document. */
export function saveSettings(): void {
  if (typeof window === 'undefined') return;
  try {
    localStorage.setItem(KEY, JSON.stringify({ lang: settings.lang, annotator: ownAnnotator ?? settings.annotator, theme: settings.theme }));
  } catch {
    /* private mode: settings last for this session */
  }
  applySettings();
}

/** Applies theme and language to <html>. */
export function applySettings(): void {
  if (typeof document === 'undefined') return;
  document.documentElement.dataset.theme = settings.theme;
  document.documentElement.lang = settings.lang;
}

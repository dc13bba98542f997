// Light and dark themes: the system's preference (prefers-color-scheme) unless the user
// chose one with the toggle (kept in localStorage). The choice is a data-theme attribute on
// <html>; the colours are CSS variables (styles.css).

import { useEffect, useState } from 'preact/hooks';

export type ThemeChoice = 'system' | 'light' | 'dark';
const KEY = 'wirewatch.theme';
const listeners = new Set<() => void>();
const media = window.matchMedia('(prefers-color-scheme: dark)');

export function themeChoice(): ThemeChoice {
  try {
    const v = localStorage.getItem(KEY);
    return v === 'light' || v === 'dark' ? v : 'system';
  } catch {
    return 'system';
  }
}

/** The theme in effect. */
export function effectiveTheme(): 'light' | 'dark' {
  const c = themeChoice();
  return c === 'system' ? (media.matches ? 'dark' : 'light') : c;
}

function apply() {
  const c = themeChoice();
  if (c === 'system') delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = c;
  for (const f of listeners) f();
}

export function setThemeChoice(c: ThemeChoice) {
  try {
    if (c === 'system') localStorage.removeItem(KEY);
    else localStorage.setItem(KEY, c);
  } catch {
    // Not kept: applies to this page only.
  }
  apply();
}

media.addEventListener('change', apply);
apply();

export function useTheme(): 'light' | 'dark' {
  const [t, setT] = useState(effectiveTheme);
  useEffect(() => {
    const f = () => setT(effectiveTheme());
    listeners.add(f);
    return () => {
      listeners.delete(f);
    };
  }, []);
  return t;
}

// A small client-side router over the History API: the controller answers every console path
// with index.html, and this decides what it shows. State that a view depends on (sort,
// filters, the page's cursor) lives in the URL's query, so a deep link reproduces the view.

import { useEffect, useState } from 'preact/hooks';

export interface Loc {
  path: string;
  query: URLSearchParams;
}

const listeners = new Set<() => void>();

function current(): Loc {
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}

function notify() {
  for (const f of listeners) f();
}

window.addEventListener('popstate', notify);

/** Goes to a path of this app (same origin only: anything else is ignored). */
export function navigate(to: string, replace = false) {
  const url = new URL(to, location.href);
  if (url.origin !== location.origin) return;
  const target = url.pathname + url.search + url.hash;
  if (target === location.pathname + location.search + location.hash) return;
  if (replace) history.replaceState(null, '', target);
  else history.pushState(null, '', target);
  notify();
}

export function useLocation(): Loc {
  const [loc, setLoc] = useState(current);
  useEffect(() => {
    const f = () => setLoc(current());
    listeners.add(f);
    return () => {
      listeners.delete(f);
    };
  }, []);
  return loc;
}

/** `/hosts?…` from a base path and parameters (empty values left out). */
export function withQuery(path: string, params: Record<string, string | number | undefined | null>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== '') q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `${path}?${s}` : path;
}

/** Intercepts plain left clicks on links of this app (others behave as links do). */
export function onLinkClick(e: MouseEvent) {
  if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
  const a = (e.target as Element | null)?.closest?.('a');
  if (!a || a.target || a.hasAttribute('download') || a.dataset.external !== undefined) return;
  const href = a.getAttribute('href');
  if (!href || !href.startsWith('/') || href.startsWith('//')) return;
  // Server pages (the Python pages, the API) are real navigations.
  if (/^\/(api|python|login|logout|healthz|metrics)(\/|$|\?)/.test(href)) return;
  e.preventDefault();
  navigate(href);
}

// wirewatch's service worker: an offline shell. Pages of the app (navigations) come from the
// network first; when it cannot be reached, the last app page fetched is served from the
// cache, and the app says it is offline or that the controller cannot be reached. The app's
// hashed assets are cached as they are fetched. The API (/api), the Python pages and the
// server's own paths are never touched: no token and no figure is ever cached.
const CACHE = 'wirewatch-shell-1';
const SHELL = '/__shell';
const SERVER = /^\/(api|python|login|logout|healthz|metrics)(\/|$)/;

async function keepShell(response) {
  const cache = await caches.open(CACHE);
  await cache.put(SHELL, response.clone());
  // The assets the page names, so the shell works offline from the first visit on.
  const html = await response.text();
  const assets = [...html.matchAll(/(?:src|href)="(\/assets\/[^"]+)"/g)].map((m) => m[1]);
  for (const a of assets) {
    if (!(await cache.match(a))) await cache.add(a).catch(() => {});
  }
}

self.addEventListener('install', (event) => {
  event.waitUntil(
    fetch('/m', { cache: 'no-store' })
      .then((r) => (r.ok ? keepShell(r) : undefined))
      .catch(() => {})
      .then(() => self.skipWaiting()),
  );
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const k of await caches.keys()) if (k !== CACHE) await caches.delete(k);
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const req = event.request;
  if (req.method !== 'GET') return;
  const url = new URL(req.url);
  if (url.origin !== self.location.origin || SERVER.test(url.pathname)) return;
  if (req.mode === 'navigate') {
    event.respondWith(
      fetch(req)
        .then((r) => {
          if (r.ok && (r.headers.get('content-type') || '').startsWith('text/html')) {
            event.waitUntil(keepShell(r.clone()));
          }
          return r;
        })
        .catch(async () => (await caches.match(SHELL)) || Response.error()),
    );
    return;
  }
  if (url.pathname.startsWith('/assets/')) {
    event.respondWith(
      caches.match(req).then(
        (hit) =>
          hit ||
          fetch(req).then((r) => {
            if (r.ok) {
              const copy = r.clone();
              event.waitUntil(caches.open(CACHE).then((c) => c.put(req, copy)));
            }
            return r;
          }),
      ),
    );
  }
});

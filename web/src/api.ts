// The session and every call to the controller's JSON API.
//
// The API is Bearer-only: the access token lives in this module's memory (never stored), the
// one-use refresh token in localStorage so a reload or a deep link opened in the same browser
// keeps the session until sign-out. A 401 triggers one silent refresh and one retry; a refresh
// that fails signs out with "your session expired". Requests never carry cookies
// (`credentials: 'omit'`): the /python pages' session cookie does not reach /api/v1.
//
// Refresh tokens work once and a reused one revokes the whole sign-in, so refreshes are
// serialised: within a tab by one shared promise, across tabs by the Web Locks API (where the
// browser offers it: secure contexts, which include http://127.0.0.1 and https), each refresh
// reading the newest token from localStorage inside the lock.

export type ErrorKind =
  | 'network'
  | 'auth'
  | 'forbidden'
  | 'not_found'
  | 'bad_request'
  | 'rate_limited'
  | 'server';

export class ApiError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export interface Me {
  id: number;
  username: string;
  role: 'viewer' | 'operator' | 'admin';
  sites: string[] | null;
  auth: string;
}

export type Session =
  | { status: 'starting' }
  | { status: 'signed-out'; message?: string }
  | { status: 'unreachable'; message: string }
  | { status: 'signed-in'; me: Me };

const REFRESH_KEY = 'wirewatch.refresh';
export const EXPIRED = 'Your session expired, sign in again.';
export const UNREACHABLE =
  'Cannot reach the controller: it is stopped, or the network is down. Try again in a moment.';
export const OFFLINE = 'You are offline: this device has no network. The figures come back with it.';

let access: string | null = null;
let refreshing: Promise<'ok' | 'expired'> | null = null;
let session: Session = { status: 'starting' };
const listeners = new Set<() => void>();

export function getSession(): Session {
  return session;
}

export function subscribe(f: () => void): () => void {
  listeners.add(f);
  return () => listeners.delete(f);
}

function setSession(s: Session) {
  session = s;
  for (const f of listeners) f();
}

function storedRefresh(): string | null {
  try {
    return localStorage.getItem(REFRESH_KEY);
  } catch {
    return null;
  }
}

function storeRefresh(token: string | null) {
  try {
    if (token === null) localStorage.removeItem(REFRESH_KEY);
    else localStorage.setItem(REFRESH_KEY, token);
  } catch {
    // Storage disabled: the session lasts as long as the tab.
  }
}

async function send(path: string, init: RequestInit): Promise<Response> {
  try {
    return await fetch(path, { ...init, credentials: 'omit', cache: 'no-store', redirect: 'error' });
  } catch {
    const offline = typeof navigator !== 'undefined' && navigator.onLine === false;
    throw new ApiError('network', 0, 'network', offline ? OFFLINE : UNREACHABLE);
  }
}

/** The API's error body turned into a message for people. */
async function errorFrom(r: Response, context?: 'login'): Promise<ApiError> {
  let code = '';
  let message = '';
  try {
    const body = (await r.json()) as { error?: { code?: string; message?: string } };
    code = body.error?.code ?? '';
    message = body.error?.message ?? '';
  } catch {
    // Not the API's JSON (a proxy's page): the status says enough.
  }
  const s = r.status;
  if (s === 401) {
    return context === 'login'
      ? new ApiError('auth', s, code, 'Wrong user name or password.')
      : new ApiError('auth', s, code, EXPIRED);
  }
  if (s === 403) return new ApiError('forbidden', s, code, `Not allowed: ${message || 'your role does not permit this.'}`);
  if (s === 404) return new ApiError('not_found', s, code, `Not found: ${message || r.url}`);
  if (s === 429) {
    const wait = r.headers.get('retry-after');
    return new ApiError('rate_limited', s, code, `Too many attempts${wait ? `: try again in ${wait} s` : ''}.`);
  }
  if (s >= 500) {
    const what =
      s === 503 ? 'The controller is unavailable (its database is down or it is busy)' : `The controller failed (HTTP ${s})`;
    return new ApiError('server', s, code, `${what}${message ? `: ${message}` : '.'}`);
  }
  return new ApiError('bad_request', s, code, message || `The request was refused (HTTP ${s}).`);
}

interface TokenPair {
  access_token: string;
  refresh_token: string;
  expires_in: number;
}

function keep(p: TokenPair) {
  access = p.access_token;
  storeRefresh(p.refresh_token);
}

async function refreshOnce(): Promise<'ok' | 'expired'> {
  const rt = storedRefresh();
  if (!rt) return 'expired';
  const r = await send('/api/v1/auth/refresh', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ refresh_token: rt }),
  });
  if (r.ok) {
    keep((await r.json()) as TokenPair);
    return 'ok';
  }
  if (r.status === 401) {
    // Only forget the token this refresh used (another tab may have stored a newer one).
    if (storedRefresh() === rt) storeRefresh(null);
    access = null;
    return 'expired';
  }
  throw await errorFrom(r);
}

/** One refresh at a time in this tab, and across tabs where Web Locks exist. */
function refresh(): Promise<'ok' | 'expired'> {
  if (!refreshing) {
    const locks = typeof navigator !== 'undefined' ? navigator.locks : undefined;
    const run = locks ? locks.request('wirewatch-refresh', refreshOnce) : refreshOnce();
    refreshing = run.finally(() => {
      refreshing = null;
    });
  }
  return refreshing;
}

function expire(): ApiError {
  access = null;
  storeRefresh(null);
  setSession({ status: 'signed-out', message: EXPIRED });
  return new ApiError('auth', 401, 'unauthorized', EXPIRED);
}

/** A request with the access token; on 401 one silent refresh and one retry. */
async function authed(path: string, init: RequestInit = {}): Promise<Response> {
  const go = () => {
    const headers = new Headers(init.headers);
    if (access) headers.set('authorization', `Bearer ${access}`);
    return send(path, { ...init, headers });
  };
  if (!access && (await refresh()) === 'expired') throw expire();
  let r = await go();
  if (r.status === 401) {
    if ((await refresh()) === 'expired') throw expire();
    r = await go();
    if (r.status === 401) throw expire();
  }
  if (!r.ok) throw await errorFrom(r);
  return r;
}

export async function api<T>(path: string, init?: RequestInit): Promise<T> {
  const r = await authed(path, init);
  if (r.status === 204) return undefined as T;
  return (await r.json()) as T;
}

export async function apiPost<T>(path: string, body?: unknown): Promise<T> {
  return api<T>(path, {
    method: 'POST',
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
}

/** An image or other binary answer (graphs need the Bearer token: no plain <img src>). */
export async function apiBlob(path: string): Promise<Blob> {
  return (await authed(path)).blob();
}

async function loadMe() {
  const me = await api<Me>('/api/v1/me');
  setSession({ status: 'signed-in', me });
}

/** At start: resume the session a refresh token in this browser holds. */
export async function resume(): Promise<void> {
  if (!storedRefresh()) {
    setSession({ status: 'signed-out' });
    return;
  }
  try {
    if ((await refresh()) === 'expired') {
      expire();
      return;
    }
    await loadMe();
  } catch (e) {
    if (e instanceof ApiError && e.kind === 'auth') return; // expire() said it
    setSession({ status: 'unreachable', message: e instanceof Error ? e.message : UNREACHABLE });
  }
}

export async function signIn(username: string, password: string): Promise<void> {
  const r = await send('/api/v1/auth/login', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ username, password }),
  });
  if (!r.ok) throw await errorFrom(r, 'login');
  keep((await r.json()) as TokenPair);
  await loadMe();
}

export async function signOut(): Promise<void> {
  const rt = storedRefresh();
  try {
    if (access) {
      await send('/api/v1/auth/logout', {
        method: 'POST',
        headers: { authorization: `Bearer ${access}`, 'content-type': 'application/json' },
        body: JSON.stringify(rt ? { refresh_token: rt } : {}),
      });
    }
  } finally {
    access = null;
    storeRefresh(null);
    setSession({ status: 'signed-out', message: 'You are signed out.' });
  }
}

// Signed out in another tab: this one follows.
if (typeof window !== 'undefined') {
  window.addEventListener('storage', (e) => {
    if (e.key === REFRESH_KEY && e.newValue === null && session.status === 'signed-in') {
      access = null;
      setSession({ status: 'signed-out', message: 'You signed out in another tab.' });
    }
  });
}

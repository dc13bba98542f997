import { useEffect, useRef, useState } from 'preact/hooks';
import { getSession, resume, signOut, subscribe, type Me, type Session } from './api';
import { ErrorMessage } from './components/Message';
import { Alarms } from './pages/Alarms';
import { Host } from './pages/Host';
import { Hosts } from './pages/Hosts';
import { InterfacePage } from './pages/Interface';
import { MapPage } from './pages/Map';
import { Overview } from './pages/Overview';
import { Phone } from './phone/Phone';
import { SignIn } from './pages/SignIn';
import { Thresholds } from './pages/Thresholds';
import { Tokens } from './pages/Tokens';
import { Users } from './pages/Users';
import { useLocation, type Loc } from './router';
import { setThemeChoice, themeChoice, useTheme, type ThemeChoice } from './theme';

function useSession(): Session {
  const [s, setS] = useState(getSession);
  useEffect(() => subscribe(() => setS(getSession())), []);
  return s;
}

const NAV = [
  { href: '/', label: 'Sites', match: (p: string) => p === '/' || p.startsWith('/sites/') || p.startsWith('/interfaces/') },
  { href: '/hosts', label: 'Hosts', match: (p: string) => p === '/hosts' || p.startsWith('/hosts/') },
  { href: '/map', label: 'Map', match: (p: string) => p === '/map' },
  { href: '/alarms', label: 'Alarms', match: (p: string) => p === '/alarms' || p.startsWith('/alarms/') },
  { href: '/tokens', label: 'API tokens', match: (p: string) => p === '/tokens' },
  { href: '/admin/users', label: 'Admin', match: (p: string) => p === '/admin' || p.startsWith('/admin/'), admin: true },
];

function ThemeToggle() {
  useTheme();
  const c = themeChoice();
  const next: ThemeChoice = c === 'system' ? 'dark' : c === 'dark' ? 'light' : 'system';
  return (
    <button type="button" class="theme" onClick={() => setThemeChoice(next)} aria-label={`Theme: ${c}. Switch to ${next}`}>
      {c === 'system' ? 'Theme: auto' : c === 'dark' ? 'Theme: dark' : 'Theme: light'}
    </button>
  );
}

function Page({ loc, me }: { loc: Loc; me: Me }) {
  const p = loc.path;
  if (p === '/') return <Overview />;
  if (p === '/hosts') return <Hosts loc={loc} />;
  const host = /^\/hosts\/(\d+)\/([^/]+)$/.exec(p);
  if (host) {
    let ip = host[2] ?? '';
    try {
      ip = decodeURIComponent(ip);
    } catch {
      // Not percent-encoding: taken as it is (the API answers 400 or 404).
    }
    return <Host key={p} iface={host[1] ?? ''} ip={ip} />;
  }
  if (p === '/alarms') return <Alarms loc={loc} me={me} />;
  if (p === '/alarms/thresholds') return <Thresholds me={me} />;
  if (p === '/map') return <MapPage loc={loc} />;
  if (p === '/admin' || p === '/admin/users') return <Users me={me} />;
  if (p === '/tokens') return <Tokens me={me} />;
  const iface = /^\/interfaces\/(\d+)$/.exec(p);
  if (iface) return <InterfacePage key={p} id={iface[1] ?? ''} />;
  const site = /^\/sites\/([^/]+)$/.exec(p);
  if (site) {
    let name = site[1] ?? '';
    try {
      name = decodeURIComponent(name);
    } catch {
      // Taken as it is: no such site.
    }
    return <Overview key={p} only={name} />;
  }
  return (
    <main id="main" tabIndex={-1}>
      <h1>Page not found</h1>
      <ErrorMessage error={new Error(`There is no console page at ${p}.`)} />
      <p>
        <a href="/">Go to the sites overview</a>
      </p>
    </main>
  );
}

function Shell({ me, loc }: { me: Me; loc: Loc }) {
  const first = useRef(true);
  // After an in-app navigation, focus moves to the new page's main region (screen readers
  // announce it; keyboard users start from there).
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    document.getElementById('main')?.focus();
  }, [loc.path]);
  useEffect(() => {
    const nav = NAV.find((n) => n.match(loc.path));
    document.title = nav ? `${nav.label} · wirewatch` : 'wirewatch';
  }, [loc.path]);
  const [signOutError, setSignOutError] = useState<unknown>(null);
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <a class="brand" href="/">
          wirewatch
        </a>
        <nav aria-label="Console">
          {NAV.filter((n) => !n.admin || (me.role === 'admin' && me.sites === null)).map((n) => (
            <a key={n.href} href={n.href} aria-current={n.match(loc.path) ? 'page' : undefined}>
              {n.label}
            </a>
          ))}
          <a href="/m">Phone view</a>
          <a href="/python/hosts.py" class="opt-nav">
            Python pages
          </a>
        </nav>
        <div class="me">
          <span class="who">
            {me.username} <span class="muted">({me.role})</span>
          </span>
          <ThemeToggle />
          <button type="button" onClick={() => signOut().catch(setSignOutError)}>
            Sign out
          </button>
        </div>
      </header>
      {signOutError !== null && <ErrorMessage error={signOutError} />}
      <Page loc={loc} me={me} />
    </>
  );
}

export function App() {
  const session = useSession();
  const loc = useLocation();
  useEffect(() => {
    void resume();
    // Back online: try again by itself (the "Try again" button stays for the stopped controller).
    const back = () => {
      if (getSession().status === 'unreachable') void resume();
    };
    window.addEventListener('online', back);
    return () => window.removeEventListener('online', back);
  }, []);
  switch (session.status) {
    case 'starting':
      return (
        <main id="main" class="signin">
          <p role="status">Connecting to the controller…</p>
        </main>
      );
    case 'unreachable':
      return (
        <main id="main" class="signin">
          <h1>wirewatch</h1>
          <ErrorMessage error={new Error(session.message)} onRetry={() => void resume()} />
        </main>
      );
    case 'signed-out':
      return <SignIn message={session.message} />;
    case 'signed-in':
      return loc.path === '/m' || loc.path.startsWith('/m/') ? <Phone me={session.me} loc={loc} /> : <Shell me={session.me} loc={loc} />;
  }
}

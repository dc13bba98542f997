// The on-the-go client: the same app at /m, laid out for a phone (390 px and up): a site
// switcher, each site's status and throughput, top talkers now (the live query to a probe),
// open alarms with acknowledge, host search and a host card. Its state (the chosen site) is
// in the URL and remembered in localStorage; its pages refresh themselves while visible.

import { useEffect, useState } from 'preact/hooks';
import { signOut, type Me } from '../api';
import { AckButton } from '../components/AckButton';
import { ErrorMessage, Loading } from '../components/Message';
import { amount, bits, bytes, count, flag, time } from '../format';
import { useApi } from '../hooks';
import { REFRESH_MS, SiteThroughput } from '../pages/Overview';
import { navigate, withQuery, type Loc } from '../router';
import type { AlarmEvent, EventPage, HostDetail, HostPage, LiveTopTalkers, Probe, Site, TopTalkers } from '../types';

const SITE_KEY = 'wirewatch.m.site';

function rememberedSite(): string {
  try {
    return localStorage.getItem(SITE_KEY) ?? '';
  } catch {
    return '';
  }
}

function remember(site: string) {
  try {
    if (site) localStorage.setItem(SITE_KEY, site);
    else localStorage.removeItem(SITE_KEY);
  } catch {
    // Storage disabled: the URL still carries the choice.
  }
}

/** The chosen site: the URL's, else the remembered one ("" = every site). */
function chosenSite(loc: Loc): string {
  return loc.query.has('site') ? (loc.query.get('site') ?? '') : rememberedSite();
}

function SiteSwitcher({ loc, sites }: { loc: Loc; sites: Site[] }) {
  const site = chosenSite(loc);
  return (
    <label class="switcher">
      <span class="visually-hidden">Site</span>
      <select
        name="site"
        aria-label="Site"
        value={site}
        onChange={(e) => {
          const v = (e.target as HTMLSelectElement).value;
          remember(v);
          // Explicit even when empty (`?site=`: every site), so the URL wins over the memory.
          const q = new URLSearchParams(loc.query);
          q.set('site', v);
          navigate(`${loc.path}?${q.toString()}`, true);
        }}
      >
        <option value="">Every site</option>
        {sites.map((s) => (
          <option key={s.name} value={s.name}>
            {s.name} ({s.probes_online}/{s.probes} online)
          </option>
        ))}
        {site && !sites.some((s) => s.name === site) && <option value={site}>{site} (unknown)</option>}
      </select>
    </label>
  );
}

function SiteCard({ s, probes, open }: { s: Site; probes: Probe[]; open: number }) {
  const ifaces = probes.flatMap((p) => p.interfaces.map((i) => i.id));
  const up = s.probes_online === s.probes && s.probes > 0;
  return (
    <li class="card site" data-site={s.name}>
      <h2>
        <span class={`status ${up ? 'online' : 'offline'}`}>{up ? 'online' : `${s.probes - s.probes_online} offline`}</span>{' '}
        {s.name}
      </h2>
      <SiteThroughput site={s.name} interfaces={ifaces} />
      <dl class="facts">
        <dt>Probes</dt>
        <dd>
          {s.probes_online} / {s.probes} online
        </dd>
        <dt>Hosts</dt>
        <dd>{count(s.hosts)}</dd>
        <dt>Alarms</dt>
        <dd>
          <a class={open > 0 ? 'alarm-count hot' : 'alarm-count'} href={withQuery('/m/alarms', { site: s.name })}>
            {open} open
          </a>
        </dd>
      </dl>
    </li>
  );
}

/** Top talkers now: the probe's own table (operators and admins), else the stored last hour. */
function Talkers({ me, probes }: { me: Me; probes: Probe[] }) {
  const online = probes.filter((p) => p.status === 'online');
  const [probe, setProbe] = useState('');
  const chosen = online.find((p) => p.name === probe)?.name ?? online[0]?.name ?? '';
  const canLive = me.role !== 'viewer';
  // 6 live queries a minute per user: every 12 s leaves room for a manual refresh.
  const live = useApi<LiveTopTalkers>(
    canLive && chosen ? `/api/v1/probes/${encodeURIComponent(chosen)}/live/top-talkers?limit=10&timeout_ms=4000` : null,
    12_000,
  );
  const stored = useApi<TopTalkers>(
    !canLive && chosen ? withQuery('/api/v1/top-talkers', { probe: chosen, window: 3600, limit: 10 }) : null,
    REFRESH_MS,
  );
  return (
    <section aria-labelledby="h-talkers" class="talkers">
      <h2 id="h-talkers">{canLive ? 'Top talkers now' : 'Top talkers, last hour'}</h2>
      {online.length === 0 ? (
        <p class="muted">No probe of this choice is online.</p>
      ) : (
        <>
          {online.length > 1 && (
            <label class="inline">
              Probe{' '}
              <select name="probe" value={chosen} onChange={(e) => setProbe((e.target as HTMLSelectElement).value)}>
                {online.map((p) => (
                  <option key={p.name} value={p.name}>
                    {p.name} ({p.site})
                  </option>
                ))}
              </select>
            </label>
          )}
          {canLive ? (
            live.error && !live.data ? (
              <ErrorMessage error={live.error} onRetry={live.reload} />
            ) : !live.data ? (
              <Loading what={`what ${chosen} sees now`} />
            ) : (
              <ol class="talker-list" aria-label={`Top talkers of ${live.data.probe} now`} data-probe={live.data.probe}>
                {live.data.hosts.map((h) => (
                  <li key={`${h.interface}/${h.ip}`} data-ip={h.ip}>
                    <span class="ip">{h.ip}</span>
                    <span class="muted">{h.vendor ?? h.interface}</span>
                    <span class="rate">
                      ↑ {bits(h.throughput_sent * 8)} · ↓ {bits(h.throughput_rcvd * 8)}
                    </span>
                    <span class="muted">{bytes(h.sent_bytes + h.rcvd_bytes)}</span>
                  </li>
                ))}
                {live.data.hosts.length === 0 && <li class="muted">No host yet.</li>}
              </ol>
            )
          ) : stored.error && !stored.data ? (
            <ErrorMessage error={stored.error} onRetry={stored.reload} />
          ) : !stored.data ? (
            <Loading what="top talkers" />
          ) : (
            <ol class="talker-list">
              {stored.data.hosts.map((h) => (
                <li key={h.href} data-ip={h.ip}>
                  <a class="ip" href={`/m/hosts/${h.interface_id}/${encodeURIComponent(h.ip)}`}>
                    {h.name ?? h.ip}
                  </a>
                  <span class="rate">{amount(h.sent_bytes + h.rcvd_bytes, 'bytes')}</span>
                </li>
              ))}
            </ol>
          )}
          {live.error != null && live.data !== undefined && <ErrorMessage error={live.error} />}
        </>
      )}
    </section>
  );
}

function Home({ loc, me }: { loc: Loc; me: Me }) {
  const site = chosenSite(loc);
  const sites = useApi<Site[]>('/api/v1/sites', REFRESH_MS);
  const probes = useApi<Probe[]>('/api/v1/probes', REFRESH_MS);
  const events = useApi<EventPage>(withQuery('/api/v1/alarms/events', { state: 'open', limit: 500 }), REFRESH_MS);
  const failed = sites.error ?? probes.error;
  const siteOf = new Map((probes.data ?? []).map((p) => [p.name, p.site]));
  const openBy = new Map<string, number>();
  for (const e of events.data?.items ?? []) {
    const s = (e.probe && siteOf.get(e.probe)) || '';
    openBy.set(s, (openBy.get(s) ?? 0) + 1);
  }
  const shown = (sites.data ?? []).filter((s) => !site || s.name === site);
  const ps = (probes.data ?? []).filter((p) => !site || p.site === site);
  return (
    <>
      {sites.data && <SiteSwitcher loc={loc} sites={sites.data} />}
      {failed && !sites.data ? (
        <ErrorMessage error={failed} onRetry={sites.reload} />
      ) : !sites.data || !probes.data ? (
        <Loading what="sites" />
      ) : (
        <>
          {failed !== undefined && failed !== null && <ErrorMessage error={failed} />}
          {shown.length === 0 ? (
            <p class="muted">{site ? `No site ${site} (or not one of yours).` : 'No site yet.'}</p>
          ) : (
            <ul class="sites phone-sites">
              {shown.map((s) => (
                <SiteCard key={s.name} s={s} probes={ps.filter((p) => p.site === s.name)} open={openBy.get(s.name) ?? 0} />
              ))}
            </ul>
          )}
          <Talkers me={me} probes={ps} />
        </>
      )}
    </>
  );
}

function AlarmCard({ e, canAck, onAcked }: { e: AlarmEvent; canAck: boolean; onAcked: (e: AlarmEvent) => void }) {
  return (
    <li class="card event" data-event={e.id}>
      <p>
        <span class={`severity ${e.severity}`}>{e.severity}</span> <strong class="name">{e.name}</strong>
      </p>
      <p class="message-text">{e.message}</p>
      <p class="muted">
        {time(e.raised_at)}
        {e.probe && ` · ${e.probe}`}
      </p>
      {e.acked_at ? <p>acknowledged by {e.acked_by}</p> : canAck ? <AckButton e={e} onAcked={onAcked} /> : null}
    </li>
  );
}

function PhoneAlarms({ loc, me }: { loc: Loc; me: Me }) {
  const site = chosenSite(loc);
  const page = useApi<EventPage>(withQuery('/api/v1/alarms/events', { state: 'open', site, limit: 100 }), REFRESH_MS);
  const [acked, setAcked] = useState<Record<number, AlarmEvent>>({});
  const canAck = me.role !== 'viewer';
  return (
    <>
      <h1>Open alarms{site ? ` · ${site}` : ''}</h1>
      {page.error && !page.data ? (
        <ErrorMessage error={page.error} onRetry={page.reload} />
      ) : !page.data ? (
        <Loading what="alarms" />
      ) : page.data.items.length === 0 ? (
        <p>No open alarm.</p>
      ) : (
        <ul class="events-list">
          {page.data.items.map((e) => (
            <AlarmCard key={e.id} e={acked[e.id] ?? e} canAck={canAck} onAcked={(a) => setAcked((m) => ({ ...m, [a.id]: a }))} />
          ))}
        </ul>
      )}
    </>
  );
}

function Search({ loc }: { loc: Loc }) {
  const site = chosenSite(loc);
  const q = loc.query.get('q') ?? '';
  const hits = useApi<HostPage>(q ? withQuery('/api/v1/hosts', { q, site, limit: 25, sort: 'bytes' }) : null);
  return (
    <>
      <h1>Find a host</h1>
      <form
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          const v = String(new FormData(e.currentTarget as HTMLFormElement).get('q') ?? '').trim();
          navigate(withQuery('/m/search', { q: v, site }));
        }}
      >
        <label>
          Address, MAC or name
          <input name="q" type="search" value={q} autocomplete="off" spellcheck={false} enterkeyhint="search" />
        </label>
        <button type="submit">Search</button>
      </form>
      {q &&
        (hits.error ? (
          <ErrorMessage error={hits.error} onRetry={hits.reload} />
        ) : !hits.data ? (
          <Loading what="hosts" />
        ) : hits.data.items.length === 0 ? (
          <p>No host matches “{q}”.</p>
        ) : (
          <ul class="hit-list">
            {hits.data.items.map((h) => (
              <li key={`${h.interface_id}/${h.ip}`}>
                <a href={`/m/hosts/${h.interface_id}/${encodeURIComponent(h.ip)}`} data-ip={h.ip}>
                  <span aria-hidden="true">{flag(h.country_code)} </span>
                  <span class="ip">{h.name ?? h.ip}</span>
                </a>
                <span class="muted">
                  {h.name ? `${h.ip} · ` : ''}
                  {bytes(h.bytes.sent + h.bytes.rcvd)} · {h.probe}
                </span>
              </li>
            ))}
          </ul>
        ))}
    </>
  );
}

function HostCard({ iface, ip }: { iface: string; ip: string }) {
  const h = useApi<HostDetail>(`/api/v1/interfaces/${encodeURIComponent(iface)}/hosts/${encodeURIComponent(ip)}`, REFRESH_MS);
  if (h.error && !h.data) return <ErrorMessage error={h.error} onRetry={h.reload} />;
  if (!h.data) return <Loading what={`host ${ip}`} />;
  const d = h.data;
  const place = [d.geo?.city, d.geo?.country ?? d.country_code].filter(Boolean).join(', ');
  return (
    <article class="card host-card" data-ip={d.ip}>
      <h1>
        <span aria-hidden="true">{flag(d.country_code)} </span>
        {d.name ?? d.ip}
      </h1>
      <dl class="facts">
        <dt>Address</dt>
        <dd class="ip">{d.ip}</dd>
        {d.mac && (
          <>
            <dt>MAC</dt>
            <dd>
              {d.mac}
              {d.vendor && <span class="muted"> {d.vendor}</span>}
            </dd>
          </>
        )}
        {place && (
          <>
            <dt>Location</dt>
            <dd>{place}</dd>
          </>
        )}
        <dt>Sent</dt>
        <dd data-field="sent_bytes">
          {bytes(d.bytes.sent)} <span class="muted">({count(d.packets.sent)} pkts)</span>
        </dd>
        <dt>Received</dt>
        <dd data-field="rcvd_bytes">
          {bytes(d.bytes.rcvd)} <span class="muted">({count(d.packets.rcvd)} pkts)</span>
        </dd>
        <dt>Now</dt>
        <dd>
          ↑ {bits(d.throughput_sent.actual * 8)} · ↓ {bits(d.throughput_rcvd.actual * 8)}
        </dd>
        <dt>Peers</dt>
        <dd>
          {count(d.peers_sent)} sent to · {count(d.peers_rcvd)} received from
        </dd>
        <dt>Seen</dt>
        <dd>
          {time(d.first_seen)} – {time(d.last_seen)}
        </dd>
        <dt>Probe</dt>
        <dd>
          {d.probe} · {d.interface} · {d.site}
        </dd>
      </dl>
      <p>
        <a href={`/hosts/${d.interface_id}/${encodeURIComponent(d.ip)}`}>Full page in the console</a>
      </p>
    </article>
  );
}

const TABS = [
  { href: '/m', label: 'Home', match: (p: string) => p === '/m' },
  { href: '/m/alarms', label: 'Alarms', match: (p: string) => p === '/m/alarms' },
  { href: '/m/search', label: 'Search', match: (p: string) => p === '/m/search' || p.startsWith('/m/hosts/') },
];

function useOnline(): boolean {
  const [on, setOn] = useState(typeof navigator === 'undefined' ? true : navigator.onLine);
  useEffect(() => {
    const up = () => setOn(true);
    const down = () => setOn(false);
    window.addEventListener('online', up);
    window.addEventListener('offline', down);
    return () => {
      window.removeEventListener('online', up);
      window.removeEventListener('offline', down);
    };
  }, []);
  return on;
}

export function Phone({ loc, me }: { loc: Loc; me: Me }) {
  const online = useOnline();
  const [signOutError, setSignOutError] = useState<unknown>(null);
  const site = chosenSite(loc);
  useEffect(() => {
    document.title = 'wirewatch';
  }, []);
  const p = loc.path.replace(/\/$/, '') || '/m';
  const host = /^\/m\/hosts\/(\d+)\/([^/]+)$/.exec(p);
  let body;
  if (p === '/m') body = <Home loc={loc} me={me} />;
  else if (p === '/m/alarms') body = <PhoneAlarms loc={loc} me={me} />;
  else if (p === '/m/search') body = <Search loc={loc} />;
  else if (host) {
    let ip = host[2] ?? '';
    try {
      ip = decodeURIComponent(ip);
    } catch {
      // Taken as it is (the API answers 400 or 404).
    }
    body = <HostCard key={p} iface={host[1] ?? ''} ip={ip} />;
  } else body = <ErrorMessage error={new Error(`There is no page at ${loc.path}.`)} />;
  return (
    <div class="phone">
      <header class="phone-top">
        <a class="brand" href="/m">
          wirewatch
        </a>
        <span class="who muted">{me.username}</span>
        <button type="button" onClick={() => signOut().catch(setSignOutError)}>
          Sign out
        </button>
      </header>
      {!online && (
        <p class="message error offline" role="alert">
          You are offline: figures will update when the network is back.
        </p>
      )}
      {signOutError !== null && <ErrorMessage error={signOutError} />}
      <main id="main" tabIndex={-1} class="phone-main">
        {body}
      </main>
      <nav class="tabbar" aria-label="Phone">
        {TABS.map((t) => (
          <a key={t.href} href={site ? withQuery(t.href, { site }) : t.href} aria-current={t.match(p) ? 'page' : undefined}>
            {t.label}
          </a>
        ))}
        <a href="/">Console</a>
      </nav>
    </div>
  );
}

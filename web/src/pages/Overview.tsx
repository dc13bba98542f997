import { useEffect, useState } from 'preact/hooks';
import { api } from '../api';
import { Sparkline } from '../components/Charts';
import { ErrorMessage, Loading } from '../components/Message';
import { bits, bytes, count, time } from '../format';
import { useApi } from '../hooks';
import type { EventPage, InterfaceHistory, Probe, Site } from '../types';

/** Bits per second per interval, summed over interfaces (points keyed by their time). */
function throughput(histories: InterfaceHistory[]): number[] {
  const byTs = new Map<number, number>();
  for (const h of histories) {
    for (const p of h.points) {
      const t = Date.parse(p.ts);
      byTs.set(t, (byTs.get(t) ?? 0) + p.bytes);
    }
  }
  const ts = [...byTs.keys()].sort((a, b) => a - b);
  const out: number[] = [];
  for (let i = 1; i < ts.length; i++) {
    const secs = ((ts[i] ?? 0) - (ts[i - 1] ?? 0)) / 1000;
    if (secs > 0) out.push(((byTs.get(ts[i] ?? 0) ?? 0) * 8) / secs);
  }
  return out;
}

/** How often the overview and the phone's home fetch their figures again. */
export const REFRESH_MS = 15_000;

/** A site's throughput: the sparkline of its interfaces' history and the latest figure. */
export function SiteThroughput({ site, interfaces }: { site: string; interfaces: number[] }) {
  const [values, setValues] = useState<number[] | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [tick, setTick] = useState(0);
  const key = interfaces.join(',');
  useEffect(() => {
    let live = true;
    Promise.all(interfaces.map((id) => api<InterfaceHistory>(`/api/v1/interfaces/${id}/history?resolution=raw`))).then(
      (hs) => {
        if (!live) return;
        setValues(throughput(hs));
        setError(null);
      },
      (e: unknown) => live && setError(e),
    );
    return () => {
      live = false;
    };
  }, [key, tick]);
  useEffect(() => {
    const t = window.setInterval(() => {
      if (document.visibilityState === 'visible') setTick((n) => n + 1);
    }, REFRESH_MS);
    return () => window.clearInterval(t);
  }, []);
  if (error && !values) return <span class="muted">history unavailable</span>;
  if (!values) return <span class="muted">…</span>;
  const last = values[values.length - 1];
  if (last === undefined) return <span class="muted">no history yet</span>;
  return (
    <span class="thpt">
      {values.length > 1 && <Sparkline values={values} label={`Throughput of site ${site}, latest ${bits(last)}`} />}
      <span class="figure">{bits(last)}</span>
    </span>
  );
}

/** The sites (`only`: one site's page, `/sites/<name>`). */
export function Overview({ only }: { only?: string }) {
  const all = useApi<Site[]>('/api/v1/sites', REFRESH_MS);
  const sites = { ...all, data: all.data?.filter((s) => only === undefined || s.name === only) };
  const probes = useApi<Probe[]>('/api/v1/probes', REFRESH_MS);
  const events = useApi<EventPage>('/api/v1/alarms/events?state=open&limit=1000', REFRESH_MS);
  const failed = sites.error ?? probes.error ?? events.error;
  const siteOf = new Map((probes.data ?? []).map((p) => [p.name, p.site]));
  const openBySite = new Map<string, number>();
  for (const e of events.data?.items ?? []) {
    const s = e.probe ? siteOf.get(e.probe) : undefined;
    const k = s ?? '';
    openBySite.set(k, (openBySite.get(k) ?? 0) + 1);
  }
  const more = events.data?.next_cursor ? '+' : '';
  const unsited = openBySite.get('') ?? 0;
  return (
    <main id="main" tabIndex={-1}>
      <h1>{only === undefined ? 'Sites' : `Site ${only}`}</h1>
      {failed ? (
        <ErrorMessage
          error={failed}
          onRetry={() => {
            sites.reload();
            probes.reload();
            events.reload();
          }}
        />
      ) : !sites.data || !probes.data ? (
        <Loading what="sites" />
      ) : sites.data.length === 0 && only !== undefined ? (
        <ErrorMessage error={new Error(`Not found: no site ${only} (or not one of yours).`)} />
      ) : sites.data.length === 0 ? (
        <p>No site yet: enrol a probe with <code>wirewatch-controller probe enroll NAME --site SITE</code>.</p>
      ) : (
        <>
          <p class="summary">
            {only !== undefined && (
              <>
                <a href="/">Every site</a> ·{' '}
              </>
            )}
            {sites.data.length} {sites.data.length === 1 ? 'site' : 'sites'},{' '}
            <a href="/alarms">
              {count(events.data?.items.length ?? 0)}
              {more} open alarms
            </a>
            {unsited > 0 && ` (${unsited} of the controller itself)`}
          </p>
          <ul class="sites">
            {sites.data.map((s) => {
              const ps = (probes.data ?? []).filter((p) => p.site === s.name);
              const ifaces = ps.flatMap((p) => p.interfaces.map((i) => i.id));
              const open = openBySite.get(s.name) ?? 0;
              return (
                <li class="card site" key={s.name} data-site={s.name}>
                  <h2>
                    <a href={`/sites/${encodeURIComponent(s.name)}`}>{s.name}</a>
                  </h2>
                  <p class="links">
                    <a href={`/hosts?site=${encodeURIComponent(s.name)}`}>Hosts of {s.name}</a>
                  </p>
                  <SiteThroughput site={s.name} interfaces={ifaces} />
                  <dl class="facts">
                    <dt>Probes online</dt>
                    <dd>
                      {s.probes_online} / {s.probes}
                    </dd>
                    <dt>Hosts</dt>
                    <dd>{count(s.hosts)}</dd>
                    <dt>Traffic</dt>
                    <dd>{bytes(s.bytes)}</dd>
                    <dt>Open alarms</dt>
                    <dd>
                      <a class={open > 0 ? 'alarm-count hot' : 'alarm-count'} href={`/alarms?site=${encodeURIComponent(s.name)}`}>
                        {open}
                      </a>
                    </dd>
                    <dt>Last batch</dt>
                    <dd>{time(s.last_batch_at)}</dd>
                  </dl>
                  <ul class="probes" aria-label={`Probes of ${s.name}`}>
                    {ps.map((p) => (
                      <li key={p.name} data-probe={p.name}>
                        <span class={`status ${p.status}`}>{p.status}</span> {p.name}
                        {p.hostname && <span class="muted"> ({p.hostname})</span>}
                        {p.interfaces.length > 0 && (
                          <ul class="ifaces" aria-label={`Interfaces of ${p.name}`}>
                            {p.interfaces.map((i) => (
                              <li key={i.id}>
                                <a href={`/interfaces/${i.id}`} data-interface={i.id}>
                                  {i.name}
                                </a>{' '}
                                <span class="muted">{bytes(i.bytes)}</span>
                              </li>
                            ))}
                          </ul>
                        )}
                      </li>
                    ))}
                  </ul>
                </li>
              );
            })}
          </ul>
        </>
      )}
    </main>
  );
}

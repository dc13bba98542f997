import { useEffect, useMemo, useState } from 'preact/hooks';
import { apiBlob } from '../api';
import { InOutBar, RateChart } from '../components/Charts';
import { ErrorMessage, Loading } from '../components/Message';
import { bits, bytes, count, flag, time } from '../format';
import { useApi } from '../hooks';
import type { HostDetail, HostHistory, Traffic } from '../types';

function Num({ n, unit }: { n: number; unit: 'bytes' | 'packets' | 'count' }) {
  return (
    <td class="num" data-value={n}>
      {unit === 'bytes' ? (
        <>
          {bytes(n)}
          {n >= 1024 && <span class="exact"> ({count(n)})</span>}
        </>
      ) : (
        count(n)
      )}
    </td>
  );
}

function TrafficRow({ label, t }: { label: string; t: Traffic }) {
  return (
    <tr data-row={label}>
      <th scope="row">{label}</th>
      <Num n={t.sent_bytes} unit="bytes" />
      <Num n={t.rcvd_bytes} unit="bytes" />
      <Num n={t.sent_packets} unit="packets" />
      <Num n={t.rcvd_packets} unit="packets" />
    </tr>
  );
}

function TrafficHead({ first }: { first: string }) {
  return (
    <thead>
      <tr>
        <th scope="col">{first}</th>
        <th scope="col">Bytes sent</th>
        <th scope="col">Bytes received</th>
        <th scope="col">Packets sent</th>
        <th scope="col">Packets received</th>
      </tr>
    </thead>
  );
}

/** The host's traffic over time (raw intervals, rates per second), drawn with uPlot. */
function History({ base }: { base: string }) {
  const h = useApi<HostHistory>(`${base}/history?resolution=raw`);
  const series = useMemo(() => {
    const pts = h.data?.points ?? [];
    const ts: number[] = [];
    const sent: number[] = [];
    const rcvd: number[] = [];
    pts.forEach((p, i) => {
      const t = Date.parse(p.ts) / 1000;
      const prev = i > 0 ? Date.parse(pts[i - 1]?.ts ?? '') / 1000 : NaN;
      const next = i + 1 < pts.length ? Date.parse(pts[i + 1]?.ts ?? '') / 1000 : NaN;
      // An interval's length: to the previous point, else to the next; at least a second.
      const secs = Math.max(1, Number.isFinite(prev) ? t - prev : Number.isFinite(next) ? next - t : 10);
      ts.push(t);
      sent.push((p.sent_bytes * 8) / secs);
      rcvd.push((p.rcvd_bytes * 8) / secs);
    });
    return { ts, sent, rcvd };
  }, [h.data]);
  if (h.error) return <ErrorMessage error={h.error} onRetry={h.reload} />;
  if (!h.data) return <Loading what="history" />;
  if (series.ts.length === 0) return <p class="muted">No history in the last days of data.</p>;
  return (
    <RateChart
      ts={series.ts}
      sent={series.sent}
      rcvd={series.rcvd}
      label={`Throughput of this host over ${series.ts.length} intervals`}
    />
  );
}

const RRD_FILES = ['bytesSent.rrd', 'bytesRcvd.rrd', 'pktSent.rrd', 'pktRcvd.rrd'];

/** The RRD archive's graph of this host, when it has an archive (fetched with the token). */
function RrdGraph({ dir, from, to }: { dir: string; from: string | null; to: string | null }) {
  const files = useApi<{ files: string[] }>(`/api/v1/rrd/files?prefix=${encodeURIComponent(`${dir}/`)}&limit=100`);
  const [file, setFile] = useState('bytesSent.rrd');
  const [img, setImg] = useState<{ url?: string; error?: unknown }>({});
  const have = (files.data?.files ?? []).map((f) => f.slice(dir.length + 1)).filter((f) => RRD_FILES.includes(f));
  const path = have.includes(file) ? `${dir}/${file}` : have[0] ? `${dir}/${have[0]}` : null;
  useEffect(() => {
    if (!path) return;
    let live = true;
    let url: string | undefined;
    // Packet time: the host's own span (a replayed capture is years old), a minute around it.
    const end = Math.ceil((to ? Date.parse(to) : Date.now()) / 1000) + 60;
    const start = Math.max(1, Math.floor((from ? Date.parse(from) : end * 1000 - 86_400_000) / 1000) - 60);
    const q = `path=${encodeURIComponent(path)}&start=${start}&end=${Math.max(end, start + 300)}&width=640&height=200`;
    apiBlob(`/api/v1/rrd/graph?${q}`).then(
      (b) => {
        url = URL.createObjectURL(b);
        if (live) setImg({ url });
        else URL.revokeObjectURL(url);
      },
      (error: unknown) => live && setImg({ error }),
    );
    return () => {
      live = false;
      if (url) URL.revokeObjectURL(url);
    };
  }, [path, from, to]);
  if (files.error) return <ErrorMessage error={files.error} onRetry={files.reload} />;
  if (!files.data) return <Loading what="the archive" />;
  if (!path) return <p class="muted">This host has no RRD archive (only the top hosts by traffic and configured networks have one).</p>;
  return (
    <div class="rrd">
      <label>
        Archive file{' '}
        <select value={path.slice(dir.length + 1)} onChange={(e) => setFile((e.currentTarget as HTMLSelectElement).value)}>
          {have.map((f) => (
            <option key={f} value={f}>
              {f}
            </option>
          ))}
        </select>
      </label>
      {img.error ? (
        <ErrorMessage error={img.error} />
      ) : img.url ? (
        <img src={img.url} alt={`RRD graph of ${path}`} width={640} height={200} class="rrd-graph" />
      ) : (
        <Loading what="the graph" />
      )}
    </div>
  );
}

export function Host({ iface, ip }: { iface: string; ip: string }) {
  const base = `/api/v1/interfaces/${encodeURIComponent(iface)}/hosts/${encodeURIComponent(ip)}`;
  const h = useApi<HostDetail>(base);
  useEffect(() => {
    document.title = `${ip} · wirewatch`;
  }, [ip]);
  if (h.error)
    return (
      <main id="main" tabIndex={-1}>
        <h1>Host {ip}</h1>
        <ErrorMessage error={h.error} onRetry={h.reload} />
      </main>
    );
  if (!h.data)
    return (
      <main id="main" tabIndex={-1}>
        <h1>Host {ip}</h1>
        <Loading what="the host" />
      </main>
    );
  const d = h.data;
  const place = [d.geo?.city, d.geo?.country ?? d.country_code].filter(Boolean).join(', ');
  return (
    <main id="main" tabIndex={-1} class="host">
      <h1>
        {d.name ?? d.ip}
        {d.name && <span class="muted"> {d.ip}</span>}
      </h1>
      <p class="summary">
        <a href={`/hosts?probe=${encodeURIComponent(d.probe)}`}>{d.probe}</a> · {d.interface} · site {d.site}
      </p>
      <div class="grid2">
        <section aria-labelledby="h-id">
          <h2 id="h-id">Identity</h2>
          <dl class="facts">
            <dt>Address</dt>
            <dd class="ip">{d.ip}</dd>
            <dt>MAC</dt>
            <dd>{d.mac ?? '–'}</dd>
            <dt>Vendor</dt>
            <dd>{d.vendor ?? '–'}</dd>
            <dt>VLAN</dt>
            <dd>{d.vlan}</dd>
            <dt>Location</dt>
            <dd>
              {place ? (
                <>
                  <span aria-hidden="true">{flag(d.country_code)} </span>
                  {place}
                </>
              ) : (
                '–'
              )}
            </dd>
            <dt>Names</dt>
            <dd>{d.names.length ? d.names.join(', ') : '–'}</dd>
            <dt>Roles</dt>
            <dd>{d.roles.length ? d.roles.join(', ') : '–'}</dd>
            <dt>First seen</dt>
            <dd>{time(d.first_seen)}</dd>
            <dt>Last seen</dt>
            <dd>{time(d.last_seen)}</dd>
          </dl>
        </section>
        <section aria-labelledby="h-counters">
          <h2 id="h-counters">Counters</h2>
          <InOutBar inbound={d.inbound_share} outbound={d.outbound_share} />
          <p class="legend">
            <span class="key in" aria-hidden="true" /> received {d.inbound_share.toFixed(1)} % ·{' '}
            <span class="key out" aria-hidden="true" /> sent {d.outbound_share.toFixed(1)} % (of the {d.unit})
          </p>
          <table class="counters">
            <tbody>
              <tr data-row="bytes">
                <th scope="row">Bytes sent / received</th>
                <Num n={d.bytes.sent} unit="bytes" />
                <Num n={d.bytes.rcvd} unit="bytes" />
              </tr>
              <tr data-row="packets">
                <th scope="row">Packets sent / received</th>
                <Num n={d.packets.sent} unit="packets" />
                <Num n={d.packets.rcvd} unit="packets" />
              </tr>
              <tr data-row="peers">
                <th scope="row">Peers (as sender / receiver)</th>
                <Num n={d.peers_sent} unit="count" />
                <Num n={d.peers_rcvd} unit="count" />
              </tr>
              <tr data-row="tcp">
                <th scope="row">TCP sessions (active / total)</th>
                <Num n={d.tcp_sessions_active} unit="count" />
                <Num n={d.tcp_sessions_total} unit="count" />
              </tr>
              <tr data-row="udp">
                <th scope="row">UDP flows / SYNs sent</th>
                <Num n={d.udp_flows} unit="count" />
                <Num n={d.syn_sent} unit="count" />
              </tr>
              <tr data-row="thpt">
                <th scope="row">Throughput (average sent / received)</th>
                <td class="num">{bits(d.throughput_sent.average * 8)}</td>
                <td class="num">{bits(d.throughput_rcvd.average * 8)}</td>
              </tr>
              <tr data-row="peak">
                <th scope="row">Throughput (peak sent / received)</th>
                <td class="num">{bits(d.throughput_sent.peak * 8)}</td>
                <td class="num">{bits(d.throughput_rcvd.peak * 8)}</td>
              </tr>
            </tbody>
          </table>
        </section>
      </div>
      <section aria-labelledby="h-proto">
        <h2 id="h-proto">Protocols</h2>
        <div class="table-wrap">
          <table class="split">
            <TrafficHead first="Protocol" />
            <tbody>
              <TrafficRow label="TCP" t={d.protocols.tcp} />
              <TrafficRow label="UDP" t={d.protocols.udp} />
              <TrafficRow label="ICMP" t={d.protocols.icmp} />
              <TrafficRow label="Other" t={d.protocols.other} />
            </tbody>
          </table>
        </div>
      </section>
      <section aria-labelledby="h-svc">
        <h2 id="h-svc">Services</h2>
        {d.services.length === 0 ? (
          <p class="muted">No known service.</p>
        ) : (
          <div class="table-wrap">
            <table class="split services">
              <TrafficHead first="Service" />
              <tbody>
                {d.services.map((s) => (
                  <TrafficRow key={s.service} label={s.service} t={s} />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      <section aria-labelledby="h-hist">
        <h2 id="h-hist">History</h2>
        <History base={base} />
      </section>
      <section aria-labelledby="h-rrd">
        <h2 id="h-rrd">RRD archive</h2>
        {d.archive ? (
          <RrdGraph dir={d.archive} from={d.first_seen} to={d.last_seen} />
        ) : (
          <p class="muted">This controller keeps no RRD archive.</p>
        )}
      </section>
    </main>
  );
}

import { useEffect, useMemo } from 'preact/hooks';
import { InOutBar, RateChart, rates } from '../components/Charts';
import { RrdGraph } from '../components/RrdGraph';
import { ErrorMessage, Loading } from '../components/Message';
import { bits, bytes, count, flag, time } from '../format';

const HOST_FILES = ['bytesSent.rrd', 'bytesRcvd.rrd', 'pktSent.rrd', 'pktRcvd.rrd'];
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
  const chart = useMemo(() => {
    const r = rates(h.data?.points ?? [], [(p) => p.sent_bytes, (p) => p.rcvd_bytes]);
    return {
      ts: r.ts,
      series: [
        { label: 'sent', values: r.values[0] ?? [], color: '--out' },
        { label: 'received', values: r.values[1] ?? [], color: '--in' },
      ],
    };
  }, [h.data]);
  if (h.error) return <ErrorMessage error={h.error} onRetry={h.reload} />;
  if (!h.data) return <Loading what="history" />;
  if (chart.ts.length === 0) return <p class="muted">No history in the last days of data.</p>;
  return <RateChart ts={chart.ts} series={chart.series} label={`Throughput of this host over ${chart.ts.length} intervals`} />;
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
        probe <a href={`/hosts?probe=${encodeURIComponent(d.probe)}`}>{d.probe}</a> · interface{' '}
        <a href={`/interfaces/${d.interface_id}`}>{d.interface}</a> · site{' '}
        <a href={`/sites/${encodeURIComponent(d.site)}`}>{d.site}</a>
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
          <RrdGraph dir={d.archive} files={HOST_FILES} from={d.first_seen} to={d.last_seen} what="host" />
        ) : (
          <p class="muted">This controller keeps no RRD archive.</p>
        )}
      </section>
    </main>
  );
}

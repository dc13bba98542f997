import { useEffect, useMemo } from 'preact/hooks';
import { RateChart, rates } from '../components/Charts';
import { ErrorMessage, Loading } from '../components/Message';
import { RrdGraph } from '../components/RrdGraph';
import { bytes, count, time } from '../format';
import { useApi } from '../hooks';
import type { Interface as Iface, InterfaceHistory } from '../types';

const FILES = ['ethernetBytes.rrd', 'throughput.rrd', 'ethernetPkts.rrd', 'knownHostsNum.rrd'];

function History({ id }: { id: string }) {
  const h = useApi<InterfaceHistory>(`/api/v1/interfaces/${encodeURIComponent(id)}/history?resolution=raw`);
  const chart = useMemo(() => {
    const r = rates(h.data?.points ?? [], [(p) => p.bytes]);
    return { ts: r.ts, series: [{ label: 'traffic', values: r.values[0] ?? [], color: '--out' }] };
  }, [h.data]);
  if (h.error) return <ErrorMessage error={h.error} onRetry={h.reload} />;
  if (!h.data) return <Loading what="history" />;
  if (chart.ts.length === 0) return <p class="muted">No history in the last days of data.</p>;
  return <RateChart ts={chart.ts} series={chart.series} label={`Throughput of this interface over ${chart.ts.length} intervals`} />;
}

function Row({ label, n, what }: { label: string; n: number; what: 'bytes' | 'count' }) {
  return (
    <tr data-row={label}>
      <th scope="row">{label}</th>
      <td class="num" data-value={n}>
        {what === 'bytes' ? bytes(n) : count(n)}
        {what === 'bytes' && n >= 1024 && <span class="exact"> ({count(n)})</span>}
      </td>
    </tr>
  );
}

/** One interface of a probe: its counters, ntop's bytesStats, history and RRD graphs. */
export function InterfacePage({ id }: { id: string }) {
  const i = useApi<Iface>(`/api/v1/interfaces/${encodeURIComponent(id)}`);
  useEffect(() => {
    if (i.data) document.title = `${i.data.probe} ${i.data.name} · wirewatch`;
  }, [i.data]);
  if (i.error || !i.data)
    return (
      <main id="main" tabIndex={-1}>
        <h1>Interface</h1>
        {i.error ? <ErrorMessage error={i.error} onRetry={i.reload} /> : <Loading what="the interface" />}
      </main>
    );
  const d = i.data;
  const stats = Object.entries(d.bytes_stats)
    .filter(([, v]) => typeof v === 'number' && v > 0)
    .sort((a, b) => b[1] - a[1]);
  return (
    <main id="main" tabIndex={-1} class="interface">
      <h1>
        {d.probe} · {d.name}
      </h1>
      <p class="summary">
        site <a href={`/sites/${encodeURIComponent(d.site)}`}>{d.site}</a> · {d.link_type} · {d.live ? 'live capture' : 'capture file'} ·{' '}
        <a href={`/hosts?interface=${d.id}`}>its hosts</a>
      </p>
      <div class="grid2">
        <section aria-labelledby="i-counters">
          <h2 id="i-counters">Counters</h2>
          <table class="counters">
            <tbody>
              <Row label="Bytes" n={d.bytes} what="bytes" />
              <Row label="Packets" n={d.packets} what="count" />
              <Row label="Hosts" n={d.hosts} what="count" />
              <Row label="MACs" n={d.macs} what="count" />
              <Row label="Flows active" n={d.flows_active} what="count" />
              <Row label="Flows total" n={d.flows_total} what="count" />
              <Row label="Undecoded packets" n={d.undecoded_packets} what="count" />
              <Row label="Drops (libpcap)" n={d.pcap_drops} what="count" />
              <Row label="Drops (interface)" n={d.if_drops} what="count" />
              <Row label="Evictions (hosts, MACs, flows)" n={d.host_evictions + d.mac_evictions + d.flow_evictions} what="count" />
            </tbody>
          </table>
          <dl class="facts">
            <dt>First seen</dt>
            <dd>{time(d.first_seen)}</dd>
            <dt>Last seen</dt>
            <dd>{time(d.last_seen)}</dd>
          </dl>
        </section>
        <section aria-labelledby="i-stats">
          <h2 id="i-stats">Traffic by protocol</h2>
          {stats.length === 0 ? (
            <p class="muted">No traffic.</p>
          ) : (
            <table class="counters bytes-stats">
              <tbody>
                {stats.map(([k, v]) => (
                  <Row key={k} label={k} n={v} what="bytes" />
                ))}
              </tbody>
            </table>
          )}
        </section>
      </div>
      <section aria-labelledby="i-hist">
        <h2 id="i-hist">History</h2>
        <History id={id} />
      </section>
      <section aria-labelledby="i-rrd">
        <h2 id="i-rrd">RRD archive</h2>
        {d.archive ? (
          <RrdGraph dir={d.archive} files={FILES} from={d.first_seen} to={d.last_seen} what="interface" />
        ) : (
          <p class="muted">This controller keeps no RRD archive.</p>
        )}
      </section>
    </main>
  );
}

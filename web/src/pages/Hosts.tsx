import { InOutBar } from '../components/Charts';
import { ErrorMessage, Loading } from '../components/Message';
import { amount, count, flag, time } from '../format';
import { useApi } from '../hooks';
import { navigate, withQuery, type Loc } from '../router';
import type { HostPage, HostSummary } from '../types';

type Unit = 'bytes' | 'packets';

/** The view's state, all of it in the URL's query. */
interface View {
  site?: string;
  probe?: string;
  iface?: string;
  cidr?: string;
  q?: string;
  sort: string;
  order: 'asc' | 'desc';
  unit: Unit;
  limit: number;
  cursor?: string;
}

const SORTS = ['bytes', 'packets', 'sent_bytes', 'rcvd_bytes', 'sent_packets', 'rcvd_packets', 'first_seen', 'last_seen', 'ip', 'name'];

function readView(q: URLSearchParams): View {
  const get = (k: string) => q.get(k) || undefined;
  const sort = get('sort');
  const limit = Number(q.get('limit'));
  return {
    site: get('site'),
    probe: get('probe'),
    iface: /^\d+$/.test(q.get('interface') ?? '') ? (q.get('interface') ?? undefined) : undefined,
    cidr: get('cidr'),
    q: get('q'),
    sort: sort && SORTS.includes(sort) ? sort : 'bytes',
    order: q.get('order') === 'asc' ? 'asc' : 'desc',
    unit: q.get('unit') === 'packets' ? 'packets' : 'bytes',
    limit: Number.isInteger(limit) && limit >= 1 && limit <= 1000 ? limit : 50,
    cursor: get('cursor'),
  };
}

function href(v: View, path = '/hosts'): string {
  return withQuery(path, {
    site: v.site,
    probe: v.probe,
    interface: v.iface,
    cidr: v.cidr,
    q: v.q,
    sort: v.sort === 'bytes' ? undefined : v.sort,
    order: v.order === 'desc' ? undefined : v.order,
    unit: v.unit === 'bytes' ? undefined : v.unit,
    limit: v.limit === 50 ? undefined : v.limit,
    cursor: v.cursor,
  });
}

function apiPath(v: View): string {
  return withQuery('/api/v1/hosts', {
    site: v.site,
    probe: v.probe,
    interface: v.iface,
    cidr: v.cidr,
    q: v.q,
    sort: v.sort,
    order: v.order,
    unit: v.unit,
    limit: v.limit,
    cursor: v.cursor,
  });
}

export function hostPath(h: { interface_id: number; ip: string }): string {
  return `/hosts/${h.interface_id}/${encodeURIComponent(h.ip)}`;
}

/** A column header that sorts (a button, so keyboards reach it; aria-sort says the state). */
function SortHeader({ v, label, sort, unitSort, cls }: { v: View; label: string; sort: string; unitSort?: boolean; cls?: string }) {
  const key = unitSort ? sort.replace('bytes', v.unit) : sort;
  const active = v.sort === key;
  const next: View = { ...v, sort: key, order: active && v.order === 'desc' ? 'asc' : 'desc', cursor: undefined };
  return (
    <th scope="col" class={cls} aria-sort={active ? (v.order === 'desc' ? 'descending' : 'ascending') : undefined}>
      <a class="sort" href={href(next)}>
        {label}
        <span aria-hidden="true">{active ? (v.order === 'desc' ? ' ▼' : ' ▲') : ''}</span>
      </a>
    </th>
  );
}

function Row({ h, unit }: { h: HostSummary; unit: Unit }) {
  const place = [h.country_code, h.city].filter(Boolean).join(' ');
  return (
    <tr data-ip={h.ip} data-interface={h.interface_id}>
      <th scope="row">
        <a href={hostPath(h)}>{h.name ?? h.ip}</a>
      </th>
      <td class="loc">
        {place ? (
          <>
            <span aria-hidden="true">{flag(h.country_code)} </span>
            {place}
          </>
        ) : (
          <span class="muted">–</span>
        )}
      </td>
      <td class="ip opt2">{h.ip}</td>
      <td class="mac opt">{h.mac ?? '–'}</td>
      <td class="name opt">{h.name ?? '–'}</td>
      <td class="bar">
        <InOutBar inbound={h.inbound_share} outbound={h.outbound_share} />
      </td>
      <td class="vendor opt">{h.vendor ?? '–'}</td>
      <td class="num sent opt2" data-value={h.sent}>
        {amount(h.sent, unit)}
      </td>
      <td class="num rcvd opt2" data-value={h.rcvd}>
        {amount(h.rcvd, unit)}
      </td>
      <td class="num total" data-value={h.total}>
        {amount(h.total, unit)}
      </td>
      <td class="opt probe">{h.probe}</td>
      <td class="opt seen">{time(h.last_seen)}</td>
    </tr>
  );
}

export function Hosts({ loc }: { loc: Loc }) {
  const v = readView(loc.query);
  const page = useApi<HostPage>(apiPath(v));
  const apply = (e: Event) => {
    e.preventDefault();
    const f = new FormData(e.currentTarget as HTMLFormElement);
    const text = (k: string) => String(f.get(k) ?? '').trim() || undefined;
    navigate(href({ ...v, q: text('q'), cidr: text('cidr'), unit: f.get('unit') === 'packets' ? 'packets' : 'bytes', sort: v.sort.replace(/bytes|packets/, f.get('unit') === 'packets' ? 'packets' : 'bytes'), cursor: undefined }));
  };
  return (
    <main id="main" tabIndex={-1}>
      <h1>Hosts</h1>
      <form class="filters" onSubmit={apply} role="search" aria-label="Filter hosts" key={loc.query.toString()}>
        <label>
          Search
          <input name="q" type="search" defaultValue={v.q ?? ''} placeholder="address, MAC or name" maxLength={128} />
        </label>
        <label>
          Subnet (CIDR)
          <input name="cidr" defaultValue={v.cidr ?? ''} placeholder="192.168.1.0/24" spellcheck={false} />
        </label>
        <label>
          Unit
          <select name="unit" defaultValue={v.unit}>
            <option value="bytes">bytes</option>
            <option value="packets">packets</option>
          </select>
        </label>
        <button type="submit">Apply</button>
        {(v.q || v.cidr || v.site || v.probe || v.iface) && (
          <a class="button-like" href={href({ sort: v.sort, order: v.order, unit: v.unit, limit: v.limit })}>
            Clear filters
          </a>
        )}
      </form>
      {(v.site || v.probe || v.iface) && (
        <p class="summary">
          {v.site && <>Site <strong>{v.site}</strong> </>}
          {v.probe && <>Probe <strong>{v.probe}</strong> </>}
          {v.iface && (
            <>
              Interface <a href={`/interfaces/${v.iface}`}>{v.iface}</a>
            </>
          )}
        </p>
      )}
      {page.error ? (
        <ErrorMessage error={page.error} onRetry={page.reload} />
      ) : !page.data ? (
        <Loading what="hosts" />
      ) : (
        <>
          <div class="table-wrap">
            <table class="hosts" aria-busy={page.loading}>
              <caption class="visually-hidden">Hosts sorted by {v.sort.replace('_', ' ')}, {v.order === 'desc' ? 'descending' : 'ascending'}</caption>
              <thead>
                <tr>
                  <SortHeader v={v} label="Host" sort="name" />
                  <th scope="col">Location</th>
                  <SortHeader v={v} label="IP" sort="ip" cls="opt2" />
                  <th scope="col" class="opt">MAC</th>
                  <th scope="col" class="opt">Name</th>
                  <th scope="col">In / out</th>
                  <th scope="col" class="opt">Vendor</th>
                  <SortHeader v={v} label="Sent" sort="sent_bytes" unitSort cls="opt2" />
                  <SortHeader v={v} label="Received" sort="rcvd_bytes" unitSort cls="opt2" />
                  <SortHeader v={v} label="Total" sort="bytes" unitSort />
                  <th scope="col" class="opt">Probe</th>
                  <SortHeader v={v} label="Last seen" sort="last_seen" cls="opt" />
                </tr>
              </thead>
              <tbody>
                {page.data.items.map((h) => (
                  <Row key={`${h.interface_id}/${h.ip}`} h={h} unit={v.unit} />
                ))}
              </tbody>
            </table>
          </div>
          {page.data.items.length === 0 && <p>No host matches.</p>}
          <nav class="pager" aria-label="Pages">
            {v.cursor && <a href={href({ ...v, cursor: undefined })}>First page</a>}
            <span class="muted">
              {count(page.data.items.length)} hosts on this page
            </span>
            {page.data.next_cursor && (
              <a rel="next" href={href({ ...v, cursor: page.data.next_cursor })}>
                Next page
              </a>
            )}
          </nav>
        </>
      )}
    </main>
  );
}

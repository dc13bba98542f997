import { useState } from 'preact/hooks';
import type { Me } from '../api';
import { AckButton } from '../components/AckButton';
import { ErrorMessage, Loading } from '../components/Message';
import { time } from '../format';
import { useApi } from '../hooks';
import { withQuery, type Loc } from '../router';
import type { AlarmEvent, EventPage } from '../types';

const STATES = ['open', 'acked', 'all'] as const;
type State = (typeof STATES)[number];

function EventRow({ e, canAck, onAcked }: { e: AlarmEvent; canAck: boolean; onAcked: (e: AlarmEvent) => void }) {
  return (
    <tr data-event={e.id} class={e.acked_at ? 'acked' : 'open'}>
      <td class="when">{time(e.raised_at)}</td>
      <td>
        <span class={`severity ${e.severity}`}>{e.severity}</span>
      </td>
      <th scope="row" class="name">
        {e.name}
      </th>
      <td class="subject">{e.subject}</td>
      <td class="message-text">
        {e.message}
        {e.value !== null && e.threshold !== null && (
          <span class="muted">
            {' '}
            ({e.value} {e.type} {e.threshold})
          </span>
        )}
      </td>
      <td class="opt">{e.probe ?? '–'}</td>
      <td class="opt actions">
        {e.actions.length === 0
          ? '–'
          : e.actions.map((a) => (
              <span key={a.id} class={`action ${a.status}`} title={a.last_error ?? undefined}>
                {a.action} {a.status}
              </span>
            ))}
      </td>
      <td class="state">
        {e.acked_at ? (
          <span>
            acknowledged by {e.acked_by} <span class="muted">{time(e.acked_at)}</span>
          </span>
        ) : canAck ? (
          <AckButton e={e} onAcked={onAcked} />
        ) : (
          <span class="muted">open</span>
        )}
      </td>
    </tr>
  );
}

export function Alarms({ loc, me }: { loc: Loc; me: Me }) {
  const q = loc.query;
  const state: State = STATES.includes(q.get('state') as State) ? (q.get('state') as State) : 'open';
  const site = q.get('site') || undefined;
  const cursor = q.get('cursor') || undefined;
  const page = useApi<EventPage>(withQuery('/api/v1/alarms/events', { state, site, cursor, limit: 100 }));
  const [acked, setAcked] = useState<Record<number, AlarmEvent>>({});
  const [announce, setAnnounce] = useState('');
  const canAck = me.role === 'operator' || me.role === 'admin';
  const everySite = me.sites === null;
  return (
    <main id="main" tabIndex={-1}>
      <h1>Alarms</h1>
      <nav class="tabs" aria-label="Which events">
        {STATES.map((s) => (
          <a key={s} href={withQuery('/alarms', { state: s === 'open' ? undefined : s, site })} aria-current={s === state ? 'page' : undefined}>
            {s === 'open' ? 'Open' : s === 'acked' ? 'Acknowledged' : 'All'}
          </a>
        ))}
        {site && (
          <span class="muted">
            site {site} · <a href={withQuery('/alarms', { state: state === 'open' ? undefined : state })}>every site</a>
          </span>
        )}
      </nav>
      {everySite && (
        <p class="links">
          <a href="/alarms/thresholds">Thresholds and check</a> · rrdAlarm's Python pages:{' '}
          <a href="/python/rrdalarm/config.py">configurator</a> · <a href="/python/rrdalarm/report.py">report</a>
        </p>
      )}
      <p class="visually-hidden" role="status" aria-live="polite">
        {announce}
      </p>
      {page.error ? (
        <ErrorMessage error={page.error} onRetry={page.reload} />
      ) : !page.data ? (
        <Loading what="alarm events" />
      ) : page.data.items.length === 0 ? (
        <p>No {state === 'all' ? '' : state === 'open' ? 'open ' : 'acknowledged '}alarm events.</p>
      ) : (
        <>
          <div class="table-wrap">
            <table class="events">
              <thead>
                <tr>
                  <th scope="col">Raised</th>
                  <th scope="col">Severity</th>
                  <th scope="col">Name</th>
                  <th scope="col">Subject</th>
                  <th scope="col">Message</th>
                  <th scope="col" class="opt">Probe</th>
                  <th scope="col" class="opt">Actions</th>
                  <th scope="col">State</th>
                </tr>
              </thead>
              <tbody>
                {page.data.items.map((e) => (
                  <EventRow
                    key={e.id}
                    e={acked[e.id] ?? e}
                    canAck={canAck}
                    onAcked={(a) => {
                      setAcked((m) => ({ ...m, [a.id]: a }));
                      setAnnounce(`Event ${a.id} acknowledged.`);
                    }}
                  />
                ))}
              </tbody>
            </table>
          </div>
          <nav class="pager" aria-label="Pages">
            {cursor && <a href={withQuery('/alarms', { state: state === 'open' ? undefined : state, site })}>Newest</a>}
            {page.data.next_cursor && (
              <a rel="next" href={withQuery('/alarms', { state: state === 'open' ? undefined : state, site, cursor: page.data.next_cursor })}>
                Older events
              </a>
            )}
          </nav>
        </>
      )}
    </main>
  );
}

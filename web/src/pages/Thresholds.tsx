// rrdAlarm's configurator in the console (the seed's table editor): every threshold in one
// table, saved all or nothing after the controller's validation (the refused row is named and
// marked, what was typed is kept), RRD paths completed from the archive, actions from the
// controller's list; "Check now" runs the check and shows the seed's report.

import { useEffect, useState } from 'preact/hooks';
import { api, apiPost, ApiError, type Me } from '../api';
import { ErrorMessage, Loading } from '../components/Message';
import { count } from '../format';
import { useApi } from '../hooks';
import type { AlarmCheck, Threshold } from '../types';

const FIELDS: { key: keyof Threshold; label: string; hint: string; size: number }[] = [
  { key: 'id', label: 'ID', hint: 'a whole number, unique', size: 3 },
  { key: 'rrd_path', label: 'RRD path', hint: 'a glob below the archive, e.g. */interfaces/*/ethernetBytes.rrd', size: 28 },
  { key: 'type', label: 'Type', hint: 'above or below', size: 6 },
  { key: 'value', label: 'Value', hint: 'the threshold', size: 6 },
  { key: 'repetitions', label: 'Repetitions', hint: 'intervals over the threshold before it fires', size: 2 },
  { key: 'start', label: 'Start', hint: 'rrdfetch time, e.g. now-10min', size: 8 },
  { key: 'end', label: 'End', hint: 'rrdfetch time, e.g. now', size: 5 },
  { key: 'action', label: 'Action', hint: 'None, savelog, sendmail, webhook, alertmanager or a script', size: 8 },
  { key: 'action_parameter', label: 'Action parameter', hint: 'e.g. a file name, an address or a URL', size: 12 },
  { key: 'rearm_secs', label: 'Re-arm (s)', hint: 'seconds before it may fire again', size: 5 },
];

function blank(rows: Threshold[]): Threshold {
  const next = rows.reduce((m, r) => Math.max(m, Number.parseInt(r.id, 10) || 0), 0) + 1;
  return {
    id: String(next),
    rrd_path: '',
    type: 'above',
    value: '',
    repetitions: '1',
    start: 'now-10min',
    end: 'now',
    action: 'None',
    action_parameter: '',
    rearm_secs: '600',
  };
}

/** "row 3 (ID \"7\"): …" → 3 (the API names the refused row that way). */
function refusedRow(e: unknown): number | null {
  if (!(e instanceof ApiError) || e.kind !== 'bad_request') return null;
  const m = /^row (\d+) /.exec(e.message);
  return m ? Number(m[1]) : null;
}

function Report({ check }: { check: AlarmCheck }) {
  return (
    <section aria-labelledby="h-report" class="report">
      <h2 id="h-report">Check report</h2>
      <p class="summary" role="status">
        {count(check.thresholds)} thresholds, {count(check.files_checked)} files checked in {check.duration_ms.toFixed(0)} ms:{' '}
        <strong>{check.alarms_fired === 1 ? '1 alarm fired' : `${count(check.alarms_fired)} alarms fired`}</strong>
        {check.event_ids.length > 0 && (
          <>
            {' '}
            · <a href="/alarms">the events</a>
          </>
        )}
      </p>
      {check.unmatched.length > 0 && (
        <p class="message notice">
          No file matches {check.unmatched.map((u) => `${u.glob} (ID ${u.threshold_id})`).join(', ')}.
        </p>
      )}
      {check.rows.length > 0 && (
        <div class="table-wrap">
          <table class="check">
            <thead>
              <tr>
                <th scope="col">ID</th>
                <th scope="col">File</th>
                <th scope="col" class="num">
                  Value
                </th>
                <th scope="col">Type</th>
                <th scope="col" class="num">
                  Threshold
                </th>
                <th scope="col">Action</th>
                <th scope="col">Outcome</th>
              </tr>
            </thead>
            <tbody>
              {check.rows.map((r, i) => (
                <tr key={i} data-outcome={r.outcome}>
                  <td>{r.threshold_id}</td>
                  <th scope="row" class="path">
                    {r.file}
                  </th>
                  <td class="num">{r.value === null ? '-' : r.value.toFixed(2)}</td>
                  <td>{r.type}</td>
                  <td class="num">{r.threshold ?? '-'}</td>
                  <td>
                    {r.action}
                    {r.action_parameter && <span class="muted"> {r.action_parameter}</span>}
                  </td>
                  <td>
                    {r.outcome === 'fired' ? (
                      <span class="severity error">ALARM FIRED</span>
                    ) : r.outcome === 'ok' ? (
                      <span>OK{r.held_by_rearm && <span class="muted"> (re-arm pending)</span>}</span>
                    ) : (
                      <span class="severity warning" title={r.error ?? undefined}>
                        not checked: {r.error}
                      </span>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {check.actions.length > 0 && (
        <ul class="actions-run">
          {check.actions.map((a) => (
            <li key={a.id}>
              <span class={`action ${a.status}`}>
                {a.action} {a.action_parameter}: {a.status}
              </span>
              {a.error && <span class="muted"> ({a.error})</span>}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

export function Thresholds({ me }: { me: Me }) {
  const loaded = useApi<Threshold[]>('/api/v1/alarms/thresholds');
  const actions = useApi<string[]>('/api/v1/alarms/actions');
  const files = useApi<{ files: string[] }>('/api/v1/rrd/files?limit=2000');
  const [rows, setRows] = useState<Threshold[] | null>(null);
  const [dirty, setDirty] = useState(false);
  const [saving, setSaving] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [saved, setSaved] = useState('');
  const [checking, setChecking] = useState(false);
  const [check, setCheck] = useState<AlarmCheck | null>(null);
  const [checkError, setCheckError] = useState<unknown>(null);
  const canEdit = me.role !== 'viewer';
  useEffect(() => {
    if (loaded.data && rows === null) setRows(loaded.data);
  }, [loaded.data]);
  const bad = refusedRow(error);
  // Completion: every archive file, and the same paths with the probe and interface as globs.
  const paths = new Set<string>();
  for (const f of files.data?.files ?? []) {
    paths.add(f);
    const parts = f.split('/');
    if (parts.length >= 4 && parts[1] === 'interfaces') paths.add(['*', 'interfaces', '*', ...parts.slice(3)].join('/'));
  }
  const edit = (i: number, key: keyof Threshold, value: string) => {
    setRows((rs) => (rs ?? []).map((r, j) => (j === i ? { ...r, [key]: value } : r)));
    setDirty(true);
    setSaved('');
  };
  const save = async (e: Event) => {
    e.preventDefault();
    if (!rows) return;
    setSaving(true);
    setError(null);
    setSaved('');
    try {
      const r = await api<{ thresholds: number; unchanged: number; rearm_dropped: number }>('/api/v1/alarms/thresholds', {
        method: 'PUT',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(rows),
      });
      setDirty(false);
      setSaved(`Saved ${r.thresholds} thresholds (${r.unchanged} unchanged).`);
      setRows(await api<Threshold[]>('/api/v1/alarms/thresholds'));
    } catch (err) {
      setError(err);
    } finally {
      setSaving(false);
    }
  };
  const runCheck = async () => {
    setChecking(true);
    setCheckError(null);
    try {
      setCheck(await apiPost<AlarmCheck>('/api/v1/alarms/check'));
    } catch (err) {
      setCheckError(err);
    } finally {
      setChecking(false);
    }
  };
  if (loaded.error) {
    return (
      <main id="main" tabIndex={-1}>
        <h1>Alarm thresholds</h1>
        <ErrorMessage error={loaded.error} onRetry={loaded.reload} />
      </main>
    );
  }
  return (
    <main id="main" tabIndex={-1}>
      <h1>Alarm thresholds</h1>
      <p class="summary">
        rrdAlarm: each threshold checks the archive files its path matches over its window and fires when the value is above
        (or below) it for as many intervals as its repetitions. <a href="/alarms">Events</a> ·{' '}
        <a href="/python/rrdalarm/config.py">the Python configurator</a>
      </p>
      {!rows ? (
        <Loading what="thresholds" />
      ) : (
        <form onSubmit={save} aria-describedby="thr-help">
          <p id="thr-help" class="muted">
            {canEdit
              ? 'Changes take effect when saved; the whole list is checked first and nothing is saved if a row is wrong.'
              : 'Read only: changing thresholds needs the operator role.'}
          </p>
          <datalist id="rrd-paths">
            {[...paths].sort().map((p) => (
              <option key={p} value={p} />
            ))}
          </datalist>
          <datalist id="alarm-actions">
            {(actions.data ?? ['None']).map((a) => (
              <option key={a} value={a} />
            ))}
          </datalist>
          <div class="table-wrap">
            <table class="thresholds">
              <thead>
                <tr>
                  {FIELDS.map((f) => (
                    <th key={f.key} scope="col" title={f.hint}>
                      {f.label}
                    </th>
                  ))}
                  {canEdit && (
                    <th scope="col">
                      <span class="visually-hidden">Remove</span>
                    </th>
                  )}
                </tr>
              </thead>
              <tbody>
                {rows.map((r, i) => (
                  <tr key={i} class={bad === i + 1 ? 'refused' : undefined} data-row={i + 1} aria-invalid={bad === i + 1 ? 'true' : undefined}>
                    {FIELDS.map((f) => (
                      <td key={f.key}>
                        {f.key === 'type' ? (
                          <select
                            name={f.key}
                            aria-label={`${f.label} of row ${i + 1}`}
                            value={r.type}
                            disabled={!canEdit}
                            onChange={(e) => edit(i, 'type', (e.target as HTMLSelectElement).value)}
                          >
                            <option value="above">above</option>
                            <option value="below">below</option>
                          </select>
                        ) : (
                          <input
                            name={f.key}
                            size={f.size}
                            aria-label={`${f.label} of row ${i + 1}`}
                            title={f.hint}
                            list={f.key === 'rrd_path' ? 'rrd-paths' : f.key === 'action' ? 'alarm-actions' : undefined}
                            value={r[f.key]}
                            readOnly={!canEdit}
                            spellcheck={false}
                            autocomplete="off"
                            onInput={(e) => edit(i, f.key, (e.target as HTMLInputElement).value)}
                          />
                        )}
                      </td>
                    ))}
                    {canEdit && (
                      <td>
                        <button
                          type="button"
                          aria-label={`Remove row ${i + 1} (ID ${r.id})`}
                          onClick={() => {
                            setRows(rows.filter((_, j) => j !== i));
                            setDirty(true);
                          }}
                        >
                          Remove
                        </button>
                      </td>
                    )}
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          {rows.length === 0 && <p class="muted">No threshold yet{canEdit ? ': add one.' : '.'}</p>}
          {error !== null && <ErrorMessage error={error} />}
          <p class="visually-hidden" role="status" aria-live="polite">
            {saved}
          </p>
          {saved && <p class="message notice">{saved}</p>}
          {canEdit && (
            <p class="buttons">
              <button
                type="button"
                onClick={() => {
                  setRows([...rows, blank(rows)]);
                  setDirty(true);
                }}
              >
                Add a threshold
              </button>{' '}
              <button type="submit" disabled={saving || !dirty}>
                {saving ? 'Saving…' : 'Save thresholds'}
              </button>{' '}
              <button type="button" onClick={runCheck} disabled={checking || dirty} title={dirty ? 'Save first' : undefined}>
                {checking ? 'Checking…' : 'Check now'}
              </button>
            </p>
          )}
        </form>
      )}
      {checkError !== null && <ErrorMessage error={checkError} />}
      {check && <Report check={check} />}
    </main>
  );
}

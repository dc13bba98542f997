import { useEffect, useRef, useState } from 'preact/hooks';
import { createToken, revokeToken, tokenState, type ApiToken, type CreatedToken, type User } from '../accounts';
import type { Me } from '../api';
import { ErrorMessage, Loading } from '../components/Message';
import { time } from '../format';
import { useApi } from '../hooks';
import '../admin.css';

const DEFAULT_DAYS = 90;

/** Copies text to the clipboard (the Clipboard API, else the selected input's text). */
async function copy(text: string, input: HTMLInputElement | null): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    input?.select();
    try {
      return document.execCommand('copy');
    } catch {
      return false;
    }
  }
}

/** The new token's secret, shown once, with a copy button. */
function Secret({ t, onDone, announce }: { t: CreatedToken; onDone: () => void; announce: (s: string) => void }) {
  const input = useRef<HTMLInputElement>(null);
  useEffect(() => {
    input.current?.focus();
    input.current?.select();
  }, [t.token]);
  return (
    <section class="message notice secret" aria-labelledby="secret-title">
      <h2 id="secret-title">Token “{t.name}” created</h2>
      <p>
        <strong>Copy it now: it will not be shown again.</strong> Only its hash is stored. Scripts send it as{' '}
        <code>Authorization: Bearer &lt;token&gt;</code>; it acts as {t.username}.
      </p>
      <div class="secret-row">
        <label for="new-token">New API token</label>
        <input id="new-token" ref={input} readOnly value={t.token} spellcheck={false} autocomplete="off" />
        <button
          type="button"
          onClick={async () =>
            announce(
              (await copy(t.token, input.current))
                ? 'Token copied to the clipboard.'
                : 'Could not copy: select the token and copy it by hand.',
            )
          }
        >
          Copy
        </button>
      </div>
      <button type="button" onClick={onDone}>
        Done, hide it
      </button>
    </section>
  );
}

function NewToken({
  me,
  users,
  onCreated,
}: {
  me: Me;
  users: User[] | undefined;
  onCreated: (t: CreatedToken) => void;
}) {
  const [name, setName] = useState('');
  const [days, setDays] = useState(String(DEFAULT_DAYS));
  const [owner, setOwner] = useState(me.username);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const t = await createToken({
        name: name.trim(),
        expires_in_days: Number(days),
        username: owner === me.username ? undefined : owner,
      });
      setName('');
      setDays(String(DEFAULT_DAYS));
      setOwner(me.username);
      onCreated(t);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const others = (users ?? []).filter((u) => !u.disabled && u.username !== me.username);
  return (
    <form class="card admin-form" onSubmit={submit} aria-labelledby="new-token-title">
      <h2 id="new-token-title">Create a token</h2>
      {error !== null && <ErrorMessage error={error} />}
      <div class="fields">
        <div class="field">
          <label for="new-token-name">Name</label>
          <input
            id="new-token-name"
            name="name"
            required
            maxLength={64}
            autocomplete="off"
            value={name}
            onInput={(e) => setName((e.currentTarget as HTMLInputElement).value)}
            aria-describedby="token-name-hint"
          />
          <span id="token-name-hint" class="hint">
            What it is for (a script, a dashboard)
          </span>
        </div>
        <label>
          Expires in (days)
          <input
            name="expires_in_days"
            type="number"
            inputMode="numeric"
            min={1}
            step={1}
            required
            value={days}
            onInput={(e) => setDays((e.currentTarget as HTMLInputElement).value)}
          />
        </label>
        {me.role === 'admin' && me.sites === null && others.length > 0 && (
          <label>
            For user
            <select value={owner} onChange={(e) => setOwner((e.currentTarget as HTMLSelectElement).value)}>
              <option value={me.username}>{me.username} (you)</option>
              {others.map((u) => (
                <option key={u.id} value={u.username}>
                  {u.username} ({u.role})
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      <button type="submit" disabled={busy}>
        {busy ? 'Creating…' : 'Create token'}
      </button>
    </form>
  );
}

function TokenRow({
  t,
  showUser,
  onRevoked,
}: {
  t: ApiToken;
  showUser: boolean;
  onRevoked: (t: ApiToken) => void;
}) {
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const keep = useRef<HTMLButtonElement>(null);
  const revokeButton = useRef<HTMLButtonElement>(null);
  useEffect(() => {
    if (confirming) keep.current?.focus();
  }, [confirming]);
  const state = tokenState(t);
  const revoke = async () => {
    setBusy(true);
    setError(null);
    try {
      await revokeToken(t.id);
      setConfirming(false);
      onRevoked(t);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <tr data-token={t.id} class={state}>
      <th scope="row">{t.name}</th>
      {showUser && <td class="user">{t.username}</td>}
      <td class="opt">
        <code>{t.prefix}…</code>
      </td>
      <td class="opt">{time(t.created_at)}</td>
      <td>{t.expires_at ? time(t.expires_at) : 'never'}</td>
      <td class="opt">{time(t.last_used_at)}</td>
      <td class="state">
        <span class={`status ${state === 'active' ? 'online' : 'revoked'}`}>{state}</span>
      </td>
      <td class="actions">
        {state === 'active' &&
          (confirming ? (
            <div class="confirm" role="group" aria-label={`Revoke token ${t.name}?`}>
              <span>Revoke “{t.name}”? Scripts using it stop working at once.</span>
              <button type="button" class="danger" onClick={revoke} disabled={busy}>
                {busy ? 'Revoking…' : 'Revoke now'}
              </button>
              <button
                ref={keep}
                type="button"
                onClick={() => {
                  setConfirming(false);
                  setTimeout(() => revokeButton.current?.focus());
                }}
              >
                Keep it
              </button>
            </div>
          ) : (
            <button ref={revokeButton} type="button" aria-label={`Revoke token ${t.name}`} onClick={() => setConfirming(true)}>
              Revoke
            </button>
          ))}
        {error !== null && <ErrorMessage error={error} />}
      </td>
    </tr>
  );
}

/** `/tokens`: your API tokens (admins: everyone's), a new one shown once, revocation. */
export function Tokens({ me }: { me: Me }) {
  const admin = me.role === 'admin' && me.sites === null;
  const tokens = useApi<ApiToken[]>('/api/v1/tokens');
  const users = useApi<User[]>(admin ? '/api/v1/users' : null);
  const [created, setCreated] = useState<CreatedToken | null>(null);
  const [announce, setAnnounce] = useState('');
  const heading = useRef<HTMLHeadingElement>(null);
  const listHeading = useRef<HTMLHeadingElement>(null);
  const canCreate = me.role !== 'viewer' && me.auth === 'session';
  const list = [...(tokens.data ?? [])].sort((a, b) => b.id - a.id);
  return (
    <main id="main" tabIndex={-1} class="admin">
      <h1 ref={heading} tabIndex={-1}>
        API tokens
      </h1>
      <p>
        Scripts and dashboards call the API with a token instead of a password, with the role and sites of its user.
        {admin ? ' As an admin you see everyone’s tokens.' : ''}
      </p>
      <p class={announce ? 'message notice' : 'visually-hidden'} role="status" aria-live="polite" id="tokens-status">
        {announce}
      </p>
      {created && (
        <Secret
          t={created}
          announce={setAnnounce}
          onDone={() => {
            setCreated(null);
            setAnnounce('');
            heading.current?.focus();
          }}
        />
      )}
      {canCreate ? (
        <NewToken
          me={me}
          users={users.data}
          onCreated={(t) => {
            setCreated(t);
            setAnnounce(`Token ${t.name} created. Copy it now: it will not be shown again.`);
            tokens.reload();
          }}
        />
      ) : (
        <p class="message notice">
          {me.role === 'viewer'
            ? 'Viewers cannot create API tokens: an admin can make one for your account.'
            : 'Sign in with your password to create tokens (an API token cannot create tokens).'}
        </p>
      )}
      <h2 ref={listHeading} tabIndex={-1}>
        {admin ? 'Every token' : 'Your tokens'}
      </h2>
      {tokens.error ? (
        <ErrorMessage error={tokens.error} onRetry={tokens.reload} />
      ) : !tokens.data ? (
        <Loading what="API tokens" />
      ) : list.length === 0 ? (
        <p>No API tokens yet.</p>
      ) : (
        <div class="table-wrap">
          <table class="tokens">
            <thead>
              <tr>
                <th scope="col">Name</th>
                {admin && <th scope="col">User</th>}
                <th scope="col" class="opt">
                  Starts with
                </th>
                <th scope="col" class="opt">
                  Created
                </th>
                <th scope="col">Expires</th>
                <th scope="col" class="opt">
                  Last used
                </th>
                <th scope="col">State</th>
                <th scope="col">
                  <span class="visually-hidden">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {list.map((t) => (
                <TokenRow
                  key={t.id}
                  t={t}
                  showUser={admin}
                  onRevoked={(r) => {
                    if (created?.id === r.id) setCreated(null);
                    setAnnounce(`Token ${r.name} revoked.`);
                    tokens.reload();
                    // Its button is gone: focus goes back to the list, not to the page's start.
                    listHeading.current?.focus();
                  }}
                />
              ))}
            </tbody>
          </table>
        </div>
      )}
    </main>
  );
}

import { useEffect, useRef, useState } from 'preact/hooks';
import { ROLES, createUser, sitesText, updateUser, type Role, type User, type UserPatch } from '../accounts';
import { ApiError, type Me } from '../api';
import { ErrorMessage, Loading } from '../components/Message';
import { SitesField } from '../components/SitesField';
import { time } from '../format';
import { useApi } from '../hooks';
import type { Site } from '../types';
import '../admin.css';

function RoleSelect({ value, onChange }: { value: Role; onChange: (r: Role) => void }) {
  return (
    <select value={value} onChange={(e) => onChange((e.currentTarget as HTMLSelectElement).value as Role)}>
      {ROLES.map((r) => (
        <option key={r} value={r}>
          {r}
        </option>
      ))}
    </select>
  );
}

/** The form that adds a user. */
function AddUser({ sites, onAdded }: { sites: string[]; onAdded: (u: User) => void }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [scope, setScope] = useState<string[] | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const first = useRef<HTMLInputElement>(null);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const u = await createUser({ username: username.trim(), password, role, sites: scope });
      setUsername('');
      setPassword('');
      setRole('viewer');
      setScope(null);
      onAdded(u);
      first.current?.focus();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="card admin-form" onSubmit={submit} aria-labelledby="add-user-title">
      <h2 id="add-user-title">Add a user</h2>
      {error !== null && <ErrorMessage error={error} />}
      <div class="fields">
        <div class="field">
          <label for="add-user-name">User name</label>
          <input
            id="add-user-name"
            ref={first}
            name="username"
            autocomplete="off"
            required
            maxLength={64}
            value={username}
            onInput={(e) => setUsername((e.currentTarget as HTMLInputElement).value)}
            aria-describedby="add-user-name-rule"
          />
          <span id="add-user-name-rule" class="hint">
            Letters, digits and . _ - @
          </span>
        </div>
        <div class="field">
          <label for="add-user-password">Password</label>
          <input
            id="add-user-password"
            name="password"
            type="password"
            autocomplete="new-password"
            required
            value={password}
            onInput={(e) => setPassword((e.currentTarget as HTMLInputElement).value)}
            aria-describedby="add-user-password-rule"
          />
          <span id="add-user-password-rule" class="hint">
            At least 10 characters
          </span>
        </div>
        <label>
          Role
          <RoleSelect value={role} onChange={setRole} />
        </label>
      </div>
      <SitesField name="add-user-sites" legend="Sites" all={sites} value={scope} onChange={setScope} />
      <p class="hint">
        Viewers see; operators also acknowledge alarms, ask probes live and make API tokens; admins also manage users
        and everyone's tokens.
      </p>
      <button type="submit" disabled={busy}>
        {busy ? 'Adding…' : 'Add user'}
      </button>
    </form>
  );
}

/** A user's role, sites and state, and their password: the edit panel under their row. */
function EditUser({
  u,
  yourself,
  sites,
  onSaved,
  onClose,
}: {
  u: User;
  /** The signed-in admin's own account. */
  yourself: boolean;
  sites: string[];
  onSaved: (what: string) => void;
  onClose: () => void;
}) {
  const [role, setRole] = useState<Role>(u.role);
  const [scope, setScope] = useState<string[] | null>(u.sites);
  const [disabled, setDisabled] = useState(u.disabled);
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState<'access' | 'password' | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [passwordError, setPasswordError] = useState<unknown>(null);
  const title = useRef<HTMLHeadingElement>(null);
  useEffect(() => title.current?.focus(), []);

  const saveAccess = async (e: Event) => {
    e.preventDefault();
    const patch: UserPatch = {};
    if (role !== u.role) patch.role = role;
    if (JSON.stringify(scope) !== JSON.stringify(u.sites)) patch.sites = scope;
    if (disabled !== u.disabled) patch.disabled = disabled;
    if (Object.keys(patch).length === 0) {
      setError(new Error('Nothing changed: change the role, the sites or the state first.'));
      return;
    }
    setBusy('access');
    setError(null);
    try {
      const saved = await updateUser(u.id, patch);
      const what =
        patch.disabled === true
          ? `${u.username} is disabled: their sessions ended and their API tokens are revoked.`
          : `${u.username} saved (role ${saved.role}, ${sitesText(saved.sites)}${saved.disabled ? ', disabled' : ''}).`;
      onSaved(what);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(null);
    }
  };
  const resetPassword = async (e: Event) => {
    e.preventDefault();
    setBusy('password');
    setPasswordError(null);
    try {
      await updateUser(u.id, { password });
      setPassword('');
      onSaved(
        yourself
          ? 'Your password is changed; your other sessions ended.'
          : `Password of ${u.username} reset; their sessions ended.`,
      );
    } catch (err) {
      setPasswordError(err);
    } finally {
      setBusy(null);
    }
  };
  return (
    <div class="edit-user" id={`edit-user-${u.id}`}>
      <h3 ref={title} tabIndex={-1}>
        Edit {u.username}
      </h3>
      <div class="grid2">
        <form onSubmit={saveAccess} aria-label={`Access of ${u.username}`}>
          {error !== null && <ErrorMessage error={error} />}
          <label>
            Role
            <RoleSelect value={role} onChange={setRole} />
          </label>
          <SitesField name={`edit-user-sites-${u.id}`} legend="Sites" all={sites} value={scope} onChange={setScope} />
          <label class="inline">
            <input
              type="checkbox"
              checked={disabled}
              onChange={(e) => setDisabled((e.currentTarget as HTMLInputElement).checked)}
            />{' '}
            Disabled (cannot sign in; their sessions and API tokens are revoked)
          </label>
          <p class="hint">A new role or sites apply to their signed-in sessions within the access token's lifetime (15 minutes by default), to their API tokens at once.</p>
          <div class="buttons">
            <button type="submit" disabled={busy !== null}>
              {busy === 'access' ? 'Saving…' : 'Save'}
            </button>
            <button type="button" onClick={onClose}>
              Close
            </button>
          </div>
        </form>
        <form onSubmit={resetPassword} aria-label={`Password of ${u.username}`}>
          {passwordError !== null && <ErrorMessage error={passwordError} />}
          <label>
            New password
            <input
              type="password"
              autocomplete="new-password"
              required
              value={password}
              onInput={(e) => setPassword((e.currentTarget as HTMLInputElement).value)}
            />
          </label>
          <p class="hint">
            At least 10 characters. {yourself ? 'Your other sessions end' : 'Their sessions end'}; API tokens keep
            working.
          </p>
          <button type="submit" disabled={busy !== null}>
            {busy === 'password' ? 'Setting…' : 'Reset password'}
          </button>
        </form>
      </div>
    </div>
  );
}

function UserRow({
  u,
  me,
  sites,
  open,
  onToggle,
  onSaved,
}: {
  u: User;
  me: Me;
  sites: string[];
  open: boolean;
  onToggle: () => void;
  onSaved: (what: string) => void;
}) {
  const button = useRef<HTMLButtonElement>(null);
  const close = () => {
    onToggle();
    button.current?.focus();
  };
  return (
    <>
      <tr data-user={u.username} class={u.disabled ? 'disabled' : undefined}>
        <th scope="row">
          {u.username}
          {u.id === me.id && <span class="muted"> (you)</span>}
        </th>
        <td class="role">{u.role}</td>
        <td class="user-sites">{sitesText(u.sites)}</td>
        <td class="state">
          <span class={`status ${u.disabled ? 'revoked' : 'online'}`}>{u.disabled ? 'disabled' : 'enabled'}</span>
        </td>
        <td class="opt">{time(u.created_at)}</td>
        <td>
          <button
            ref={button}
            type="button"
            aria-expanded={open}
            aria-controls={`edit-user-${u.id}`}
            aria-label={`Edit ${u.username}`}
            onClick={onToggle}
          >
            {open ? 'Close' : 'Edit'}
          </button>
        </td>
      </tr>
      {open && (
        <tr class="edit-row">
          <td colSpan={6}>
            <EditUser
              u={u}
              yourself={u.id === me.id}
              sites={sites}
              onSaved={(what) => {
                onSaved(what);
                close();
              }}
              onClose={close}
            />
          </td>
        </tr>
      )}
    </>
  );
}

function forbidden(e: unknown): boolean {
  return e instanceof ApiError && e.kind === 'forbidden';
}

/** `/admin/users`: the users, a form to add one, each one's role, sites, state and password. */
export function Users({ me }: { me: Me }) {
  const users = useApi<User[]>('/api/v1/users');
  // Asked only once the user list answered (a non-admin gets the 403 alone).
  const sites = useApi<Site[]>(users.data ? '/api/v1/sites' : null);
  const [open, setOpen] = useState<number | null>(null);
  const [announce, setAnnounce] = useState('');
  const siteNames = (sites.data ?? []).map((s) => s.name);
  const saved = (what: string) => {
    setAnnounce(what);
    users.reload();
  };
  return (
    <main id="main" tabIndex={-1} class="admin">
      <h1>Users</h1>
      <p class={announce ? 'message notice' : 'visually-hidden'} role="status" aria-live="polite" id="users-status">
        {announce}
      </p>
      {users.error ? (
        forbidden(users.error) ? (
          <>
            <ErrorMessage error={users.error} />
            <p>
              Admins manage users. Your own API tokens are on the <a href="/tokens">API tokens</a> page.
            </p>
          </>
        ) : (
          <ErrorMessage error={users.error} onRetry={users.reload} />
        )
      ) : !users.data ? (
        <Loading what="users" />
      ) : (
        <>
          <div class="table-wrap">
            <table class="users">
              <thead>
                <tr>
                  <th scope="col">Name</th>
                  <th scope="col">Role</th>
                  <th scope="col">Sites</th>
                  <th scope="col">State</th>
                  <th scope="col" class="opt">
                    Created
                  </th>
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {users.data.map((u) => (
                  <UserRow
                    key={u.id}
                    u={u}
                    me={me}
                    sites={siteNames}
                    open={open === u.id}
                    onToggle={() => setOpen((o) => (o === u.id ? null : u.id))}
                    onSaved={saved}
                  />
                ))}
              </tbody>
            </table>
          </div>
          {sites.error ? (
            <ErrorMessage error={sites.error} onRetry={sites.reload} />
          ) : (
            <AddUser sites={siteNames} onAdded={(u) => saved(`User ${u.username} added (${u.role}, ${sitesText(u.sites)}).`)} />
          )}
          <p class="hint">
            API tokens of every user: <a href="/tokens">API tokens</a>. The command line does the same:{' '}
            <code>wirewatch-controller user add|list|disable|enable</code>.
          </p>
        </>
      )}
    </main>
  );
}

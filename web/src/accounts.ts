// Accounts as the console manages them: users (admins) and API tokens (everyone), the API's
// shapes and calls. Failures are api.ts's ApiError, whose message is the API's own (a 400
// names the field, a 409 says why), so the pages show it as it is.

import { api, type Me } from './api';

export type Role = Me['role'];
export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];

export interface User {
  id: number;
  username: string;
  role: Role;
  /** null: every site. */
  sites: string[] | null;
  disabled: boolean;
  created_at: string;
}

export interface NewUser {
  username: string;
  password: string;
  role: Role;
  sites: string[] | null;
}

/** Each field optional: absent = unchanged (`sites: null` = every site). */
export interface UserPatch {
  role?: Role;
  sites?: string[] | null;
  disabled?: boolean;
  password?: string;
}

export interface ApiToken {
  id: number;
  username: string;
  name: string;
  prefix: string;
  created_at: string;
  expires_at: string | null;
  last_used_at: string | null;
  revoked: boolean;
}

export interface CreatedToken extends ApiToken {
  /** The secret: in this answer only. */
  token: string;
}

function withBody(method: string, body: unknown): RequestInit {
  return { method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) };
}

export function createUser(u: NewUser): Promise<User> {
  return api<User>('/api/v1/users', withBody('POST', u));
}

export function updateUser(id: number, patch: UserPatch): Promise<User> {
  return api<User>(`/api/v1/users/${id}`, withBody('PATCH', patch));
}

export function createToken(t: { name: string; expires_in_days: number; username?: string }): Promise<CreatedToken> {
  return api<CreatedToken>('/api/v1/tokens', withBody('POST', t));
}

export function revokeToken(id: number): Promise<void> {
  return api<void>(`/api/v1/tokens/${id}`, { method: 'DELETE' });
}

export type TokenState = 'active' | 'revoked' | 'expired';

export function tokenState(t: ApiToken, now = Date.now()): TokenState {
  if (t.revoked) return 'revoked';
  if (t.expires_at !== null && Date.parse(t.expires_at) <= now) return 'expired';
  return 'active';
}

/** "every site" or the list. */
export function sitesText(sites: string[] | null): string {
  return sites === null ? 'every site' : sites.length === 0 ? 'no site' : sites.join(', ');
}

import type { PasskeyRecord, Role, UserRecord } from "../store";

/** The users columns every read selects, times as epoch ms (the API's unit). */
export const USER_COLUMNS = `id::text, email, roles, disabled, mfa_enabled, email_verified,
  round(extract(epoch FROM created_at) * 1000)::bigint AS created_at, password_hash, access_version`;

export interface UserRow {
  id: string;
  email: string;
  roles: Role[];
  disabled: boolean;
  mfa_enabled: boolean | null;
  email_verified: boolean;
  created_at: string;
  password_hash: string | null;
  access_version: string;
}

/**
 * The record as the other stores hold it: `emailVerified` only once true, `mfaEnabled` once set
 * (a factor turned off leaves false); absent reads as false.
 */
export function toUserRecord(row: UserRow): UserRecord {
  return {
    id: row.id,
    email: row.email,
    roles: row.roles,
    createdAt: Number(row.created_at),
    disabled: row.disabled,
    ...(row.mfa_enabled === null ? {} : { mfaEnabled: row.mfa_enabled }),
    ...(row.email_verified ? { emailVerified: true } : {}),
  };
}

export const PASSKEY_COLUMNS = `credential_id, user_id::text, name, public_key, counter, transports, backup_eligible, backed_up,
  round(extract(epoch FROM created_at) * 1000)::bigint AS created_at, round(extract(epoch FROM last_used_at) * 1000)::bigint AS last_used_at`;

export interface PasskeyRow {
  credential_id: string;
  user_id: string;
  name: string;
  public_key: string;
  counter: string;
  transports: string[];
  backup_eligible: boolean;
  backed_up: boolean;
  created_at: string;
  last_used_at: string | null;
}

export function toPasskeyRecord(row: PasskeyRow): PasskeyRecord {
  return {
    id: row.credential_id,
    userId: row.user_id,
    name: row.name,
    publicKey: row.public_key,
    counter: Number(row.counter),
    transports: row.transports,
    backupEligible: row.backup_eligible,
    backedUp: row.backed_up,
    createdAt: Number(row.created_at),
    lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
  };
}

/** Epoch ms as the SQL parameter for a timestamptz. */
export const MS_TO_TIMESTAMP = (param: string) => `to_timestamp(${param}::float8 / 1000)`;

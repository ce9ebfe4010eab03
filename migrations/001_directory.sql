-- The user directory in Postgres (issue 32): users and their credentials, the facts that must never
-- be lost. Sessions, revocations, throttles and mail tokens stay in Redis; so does the compact access
-- record each request reads, which `access_version` and the outbox below keep in step with this.
--
-- Applied by `npm run migrate` (or at start with MIGRATE=on) inside one transaction, with the
-- migrations table and its lock (src/store/postgres/migrations.ts). Never edit this file once
-- released: its checksum is recorded, and a changed one stops every start. Add 002_… instead.

-- emailContains: a trigram index answers `email LIKE '%…%'` without reading every row. pg_trgm is a
-- trusted extension: the database's owner creates it without being a superuser.
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE users (
  -- The API's ids are random UUIDs; uuid order is the hex string's order, the same (createdAt, id)
  -- order the other stores page in.
  id uuid PRIMARY KEY,
  -- As the API normalises it (NFKC, trimmed, lower-cased): one string for each address.
  email text NOT NULL,
  email_verified boolean NOT NULL DEFAULT false,
  -- argon2id, PHC string. NULL: no password (an account with passkeys only).
  password_hash text,
  -- Checked against the roles the API knows: a role the code does not know must not grant anything.
  roles text[] NOT NULL DEFAULT ARRAY['USER'],
  disabled boolean NOT NULL DEFAULT false,
  -- A second factor is on: aal1 tokens are refused. NULL: never set, read as false (the API's
  -- record then leaves it out, where a factor turned off says false).
  mfa_enabled boolean,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- Bumped by every change the request path must see (roles, disabled, password, credentials); the
  -- Redis access record carries it, so a stale record is told from a current one.
  access_version bigint NOT NULL DEFAULT 1,
  CONSTRAINT users_roles_known CHECK (roles <@ ARRAY['USER', 'ADMIN']),
  CONSTRAINT users_email_not_blank CHECK (email <> '' AND email = btrim(email))
);

-- Unique whatever case a hand-written INSERT uses; the API's lookups are `lower(email) = $1`.
CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_email_trgm ON users USING gin (email gin_trgm_ops);
-- Keyset paging: WHERE (created_at, id) > ($1, $2) ORDER BY created_at, id LIMIT n.
CREATE INDEX users_created_at_id ON users (created_at, id);
CREATE INDEX users_roles ON users USING gin (roles);
-- Few accounts are disabled: the filter disabled = true reads only them.
CREATE INDEX users_disabled ON users (created_at, id) WHERE disabled;

-- A user's TOTP factor once confirmed. The pending enrolment (with its expiry) and the count of wrong
-- codes are short-lived and live in Redis.
CREATE TABLE totp_factors (
  user_id uuid PRIMARY KEY REFERENCES users (id) ON DELETE CASCADE,
  -- Sealed with MFA_ENCRYPTION_KEY (AES-256-GCM, src/auth/mfa/secret-box.ts): never the plain secret.
  sealed_secret text NOT NULL,
  -- The last accepted time step: no code of it, or of an earlier step, is accepted again.
  last_step bigint NOT NULL,
  enabled_at timestamptz NOT NULL DEFAULT now()
);

-- Recovery codes, hashed (src/auth/mfa/recovery-codes.ts); using one deletes its row.
CREATE TABLE recovery_codes (
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  code_hash text NOT NULL,
  PRIMARY KEY (user_id, code_hash)
);

-- WebAuthn credentials: public material only. Ids and keys are base64url text, as the API and
-- @simplewebauthn hand them over, so nothing is re-encoded between the stores.
CREATE TABLE passkeys (
  -- Credential ids are unique across users: an authenticator's id names one account.
  credential_id text PRIMARY KEY,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  name text NOT NULL,
  -- The COSE public key.
  public_key text NOT NULL,
  -- The last signature counter seen; 0 for an authenticator that does not count.
  counter bigint NOT NULL DEFAULT 0 CHECK (counter >= 0),
  transports text[] NOT NULL DEFAULT ARRAY[]::text[],
  backup_eligible boolean NOT NULL DEFAULT false,
  backed_up boolean NOT NULL DEFAULT false,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz
);
CREATE INDEX passkeys_user_id ON passkeys (user_id);

-- Sign-in identities at other providers (OpenID Connect, social sign-in) linked to a user.
CREATE TABLE linked_identities (
  -- The provider as configured (an issuer URL or a short name) and its stable subject (`sub`).
  provider text NOT NULL,
  subject text NOT NULL,
  user_id uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  -- The address the provider gave when linking, for the user's list; never used to sign in.
  email text,
  created_at timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  PRIMARY KEY (provider, subject)
);
CREATE INDEX linked_identities_user_id ON linked_identities (user_id);

-- Postgres commits first, then Redis learns the change. A change writes a row here in the same
-- transaction; once Redis has it the row is deleted. Rows left by a crash between the two steps are
-- replayed at start, and `access_version` makes a replay that arrives late do no harm.
CREATE TABLE directory_outbox (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  -- No foreign key: the revocation of a deleted user must still reach Redis.
  user_id uuid NOT NULL,
  access_version bigint NOT NULL,
  -- What Redis must do after the access record is written (src/store/postgres/outbox.ts): "record"
  -- (nothing more), "end_all", "end_others" (payload.keep), "passkey" (payload.credentialId).
  kind text NOT NULL CHECK (kind <> ''),
  payload jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);

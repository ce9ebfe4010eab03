-- The relying parties registered with this API as an OAuth 2.1 / OpenID provider (issue 28,
-- docs/oauth-provider.md). Directory state: administered by ADMIN, read by oidc-provider on each
-- request that names a client. Grants, codes and tokens are hot state and stay in Redis.
-- Never edit this file once released; add 003_… instead.

CREATE TABLE oauth_clients (
  -- Random, base64url: ordered as text for the admin listing's cursor.
  client_id text PRIMARY KEY,
  name text NOT NULL,
  redirect_uris text[] NOT NULL,
  grant_types text[] NOT NULL,
  scopes text[] NOT NULL,
  public boolean NOT NULL,
  backchannel_logout_uri text,
  require_mfa boolean NOT NULL DEFAULT false,
  -- base64url SHA-256 of the secret (256 random bits); NULL for a public client. The secret itself is
  -- shown once, at creation or rotation, and never stored.
  secret_hash text,
  created_at timestamptz NOT NULL DEFAULT now(),
  CHECK (public = (secret_hash IS NULL))
);

import type { RevocationKind } from "@revocable-auth/verifier/internal";
import { Field, ID, ObjectType, registerEnumType } from "type-graphql";
import type { SessionEventRecord, SessionEventType } from "../../live/session-events";

export const SessionEventTypeEnum = {
  SIGNED_IN: "SIGNED_IN",
  SESSION_ENDED: "SESSION_ENDED",
  PASSWORD_CHANGED: "PASSWORD_CHANGED",
  ROLES_CHANGED: "ROLES_CHANGED",
  IDENTITY_LINKED: "IDENTITY_LINKED",
  IDENTITY_UNLINKED: "IDENTITY_UNLINKED",
} as const satisfies Record<SessionEventType, SessionEventType>;

registerEnumType(SessionEventTypeEnum, {
  name: "SessionEventType",
  description: "What happened to the signed-in user's account, elsewhere.",
  valuesConfig: {
    SIGNED_IN: { description: "Another session of this user began: a login on another device." },
    SESSION_ENDED: { description: "Another session of this user ended (or, with no sessionId, every other one did)." },
    PASSWORD_CHANGED: { description: "This user's password was changed from this session; every other session ended." },
    ROLES_CHANGED: { description: "This user's roles changed. The connection closes next with 4403: reconnect to get the new ones." },
    IDENTITY_LINKED: { description: "A sign-in provider's identity was linked to this user (`provider` names it): by linkIdentityUrl from another session, or by a provider sign-in that found the account." },
    IDENTITY_UNLINKED: { description: "A sign-in provider's identity was unlinked from this user (`provider` names it), from another session: the sessions it started ended with it." },
  },
});

type Reason = Uppercase<RevocationKind>;

export const SessionEndReasonEnum = {
  LOGOUT: "LOGOUT",
  SESSION: "SESSION",
  ALL_SESSIONS: "ALL_SESSIONS",
  OTHER_SESSIONS: "OTHER_SESSIONS",
  PASSWORD_CHANGE: "PASSWORD_CHANGE",
  REFRESH_REUSE: "REFRESH_REUSE",
  USER_DISABLED: "USER_DISABLED",
  SESSION_CAP: "SESSION_CAP",
  ROLES_CHANGED: "ROLES_CHANGED",
  PASSKEY_REMOVED: "PASSKEY_REMOVED",
  PASSWORD_RESET: "PASSWORD_RESET",
  EMAIL_CHANGE: "EMAIL_CHANGE",
  EMAIL_CHANGE_CANCELLED: "EMAIL_CHANGE_CANCELLED",
  PROVIDER_LOGOUT: "PROVIDER_LOGOUT",
} as const satisfies Record<Reason, Reason>;

registerEnumType(SessionEndReasonEnum, {
  name: "SessionEndReason",
  description: "What ended a session: LOGOUT, SESSION (revokeSession), OTHER_SESSIONS (logoutOthers), REFRESH_REUSE (a replayed refresh token), SESSION_CAP (MAX_SESSIONS_PER_USER), PROVIDER_LOGOUT (the sign-in provider's back-channel logout), …",
});

@ObjectType({ description: "One event of `sessionEvents`, about the signed-in user's other sessions." })
export class SessionEvent {
  @Field(() => SessionEventTypeEnum)
  type!: SessionEventType;

  @Field(() => ID, { nullable: true, description: "The session that began or ended (IDENTITY_LINKED, IDENTITY_UNLINKED: the session that did it, null when a provider sign-in linked it); null when the event is about several, or the user." })
  sessionId!: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      "SIGNED_IN: the new session's device name; SESSION_ENDED: the ended session's, after logout or revokeSession (null when several ended). As reported by the client that signed in.",
  })
  device!: string | null;

  @Field(() => Date)
  at!: Date;

  @Field(() => SessionEndReasonEnum, { nullable: true, description: "SESSION_ENDED: what ended it." })
  reason!: Reason | null;

  @Field(() => String, {
    nullable: true,
    description: "IDENTITY_LINKED, IDENTITY_UNLINKED: the sign-in provider (its name in OIDC_PROVIDERS, as signInProviders' id); SIGNED_IN: the provider the session signed in with, null for a password, passkey or other sign-in.",
  })
  provider!: string | null;

  static from(record: SessionEventRecord): SessionEvent {
    return Object.assign(new SessionEvent(), {
      type: record.type,
      sessionId: record.sessionId,
      device: record.device,
      at: new Date(record.at),
      reason: record.reason === null ? null : (record.reason.toUpperCase() as Reason),
      provider: record.provider ?? null,
    });
  }
}

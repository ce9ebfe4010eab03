import { Field, ID, InputType, ObjectType } from "type-graphql";
import type { EventsPage } from "../../auth/audit/audit-trail";
import { encodeEventCursor } from "../../auth/shared/cursors";
import type { AuditRecord } from "../../store/store";
import { JSONScalar } from "./json";
import { PageInfo } from "./user-connection";

@ObjectType({ description: "One event of the caller's own security history: a sign-in, a failed login, a password change, ..." })
export class SecurityEvent {
  @Field(() => ID, {
    description:
      "Unique to the event, and the same wherever it is read: securityEvents, the auditEvents query with or without a userId filter, the auditEvents subscription, and the API's log line for it (eventId). Drop duplicates by it. An event recorded before this field existed (or by an older instance during a rolling upgrade) has an id per stream instead, prefixed user- or global-.",
  })
  id!: string;

  @Field(() => String, { description: "Upper snake case: SIGNED_IN, LOGIN_FAILED, SIGNED_OUT, PASSWORD_CHANGED, USER_DISABLED, REFRESH_REUSE_DETECTED, ..." })
  type!: string;

  @Field(() => Date)
  at!: Date;

  @Field(() => ID, { nullable: true, description: "The session the event happened in (for SIGNED_IN, the session it began)." })
  sessionId!: string | null;

  @Field(() => Boolean, { description: "True when sessionId is the session whose access token made this request." })
  current!: boolean;

  @Field(() => String, {
    nullable: true,
    description:
      "The device name given at login or register, as reported by the client: not checked by the API. Control characters are replaced by U+FFFD.",
  })
  device!: string | null;

  @Field(() => String, { nullable: true, description: "The client's IP address as the API saw it (TRUST_PROXY)." })
  ip!: string | null;

  @Field(() => String, {
    nullable: true,
    description:
      "The User-Agent header as reported by the client, which chose it (for LOGIN_FAILED, whoever tried the password): not checked by the API. Cut to 256 characters (the last one then …); control characters are replaced by U+FFFD.",
  })
  userAgent!: string | null;

  static fill<T extends SecurityEvent>(target: T, record: AuditRecord, currentSessionId: string | null): T {
    return Object.assign(target, {
      id: record.eventId,
      type: record.type,
      at: new Date(record.at),
      sessionId: record.sessionId,
      current: record.sessionId !== null && record.sessionId === currentSessionId,
      device: record.device,
      ip: record.clientIp,
      userAgent: record.userAgent,
    });
  }
}

@ObjectType({ description: "One event of the audit trail, for admins: a SecurityEvent with who did it to whom, and its details." })
export class AuditEvent extends SecurityEvent {
  @Field(() => String, {
    description:
      "Opaque: this event's place in the stream it was read from, the edge's cursor in the auditEvents query; pass it as after to read on from there. The subscription and the query without a userId filter read the global trail, where one event has one cursor; with a userId filter the query reads that user's own stream, whose cursors differ. To drop duplicates, compare id.",
  })
  cursor!: string;

  @Field(() => ID, { nullable: true, description: "Who did it; null when the user themself or the system did." })
  actorId!: string | null;

  @Field(() => ID, { nullable: true, description: "Whom it is about; null when no account is known (a failed login for an unknown email)." })
  userId!: string | null;

  @Field(() => JSONScalar, { description: "The event's plain arguments (scope, roles, reason, ...); never a secret." })
  details!: Record<string, unknown>;

  static from(record: AuditRecord, currentSessionId: string | null): AuditEvent {
    return Object.assign(SecurityEvent.fill(new AuditEvent(), record, currentSessionId), {
      cursor: encodeEventCursor(record.id),
      actorId: record.actorId,
      userId: record.userId,
      details: record.details,
    });
  }
}

@ObjectType()
export class SecurityEventEdge {
  @Field(() => String, { description: "Opaque; pass as after to get the events before this one." })
  cursor!: string;

  @Field(() => SecurityEvent)
  node!: SecurityEvent;
}

@ObjectType({ description: "One page of the caller's security events, newest first. Cursors stay valid while events arrive." })
export class SecurityEventConnection {
  @Field(() => [SecurityEventEdge])
  edges!: SecurityEventEdge[];

  @Field(() => [SecurityEvent], { description: "The events of this page, as in edges." })
  nodes!: SecurityEvent[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  static from(page: EventsPage, currentSessionId: string): SecurityEventConnection {
    const edges = page.edges.map(({ cursor, event }) =>
      Object.assign(new SecurityEventEdge(), { cursor, node: SecurityEvent.fill(new SecurityEvent(), event, currentSessionId) }),
    );
    return Object.assign(new SecurityEventConnection(), { edges, nodes: edges.map((edge) => edge.node), pageInfo: pageInfo(page) });
  }
}

@ObjectType()
export class AuditEventEdge {
  @Field(() => String, { description: "Opaque; pass as after to get the events before this one." })
  cursor!: string;

  @Field(() => AuditEvent)
  node!: AuditEvent;
}

@ObjectType({ description: "One page of the audit trail, newest first. Cursors stay valid while events arrive." })
export class AuditEventConnection {
  @Field(() => [AuditEventEdge])
  edges!: AuditEventEdge[];

  @Field(() => [AuditEvent], { description: "The events of this page, as in edges." })
  nodes!: AuditEvent[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  static from(page: EventsPage, currentSessionId: string): AuditEventConnection {
    const edges = page.edges.map(({ cursor, event }) => Object.assign(new AuditEventEdge(), { cursor, node: AuditEvent.from(event, currentSessionId) }));
    return Object.assign(new AuditEventConnection(), { edges, nodes: edges.map((edge) => edge.node), pageInfo: pageInfo(page) });
  }
}

@InputType({ description: "Narrows auditEvents; every field is optional and all given ones must match." })
export class AuditEventFilter {
  @Field(() => ID, { nullable: true, description: "Events about this user (the user they concern, not who did them)." })
  userId?: string | null;

  @Field(() => ID, { nullable: true, description: "Events done by this admin." })
  actorId?: string | null;

  @Field(() => [String], { nullable: true, description: "Any of these types (up to 50), e.g. [USER_DISABLED, USER_ENABLED]." })
  types?: string[] | null;

  @Field(() => Date, { nullable: true, description: "Events at or after this instant." })
  from?: Date | null;

  @Field(() => Date, { nullable: true, description: "Events at or before this instant." })
  to?: Date | null;
}

function pageInfo(page: EventsPage): PageInfo {
  return Object.assign(new PageInfo(), { hasNextPage: page.hasNextPage, endCursor: page.endCursor });
}

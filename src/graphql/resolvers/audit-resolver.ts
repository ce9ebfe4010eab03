import { Arg, Authorized, Ctx, Int, Query, Resolver, Root, Subscription } from "type-graphql";
import { EVENTS_PAGE_DEFAULT, EVENTS_PAGE_MAX, type AuditFilter, type AuditTrail } from "../../auth/audit/audit-trail";
import type { RequestContext } from "../../context/context";
import { authenticationRequired, rolesUnconfirmed, subscriberTooSlow } from "../../errors";
import { isOverflow, type AuditFeedItem } from "../../live/audit-feed";
import { oncePerRequest } from "../rules/once-per-request";
import { AuditEvent, AuditEventConnection, AuditEventFilter, SecurityEventConnection } from "../types/security-event";
import { signedIn } from "./identity";

@Resolver()
export class AuditResolver {
  constructor(private readonly trail: AuditTrail) {}

  @Authorized()
  @Query(() => SecurityEventConnection, {
    description: `The caller's own security history, newest first, one page at a time: first from 1 to ${EVENTS_PAGE_MAX}, after an endCursor.`,
  })
  async securityEvents(
    @Arg("first", () => Int, { nullable: true, defaultValue: EVENTS_PAGE_DEFAULT }) first: number | null,
    @Arg("after", () => String, { nullable: true }) after: string | null,
    @Ctx() context: RequestContext,
  ): Promise<SecurityEventConnection> {
    const identity = signedIn(context);
    const page = await oncePerRequest(context, "securityEvents", () => this.trail.forUser(identity.userId, first ?? EVENTS_PAGE_DEFAULT, after ?? null));
    return SecurityEventConnection.from(page, identity.sessionId);
  }

  @Authorized("ADMIN")
  @Query(() => AuditEventConnection, {
    description: `The audit trail of every user, newest first, filtered, one page at a time: first from 1 to ${EVENTS_PAGE_MAX}, after an endCursor. ADMIN only.`,
  })
  async auditEvents(
    @Arg("first", () => Int, { nullable: true, defaultValue: EVENTS_PAGE_DEFAULT }) first: number | null,
    @Arg("after", () => String, { nullable: true }) after: string | null,
    @Arg("filter", () => AuditEventFilter, { nullable: true }) filter: AuditEventFilter | null,
    @Ctx() context: RequestContext,
  ): Promise<AuditEventConnection> {
    const identity = signedIn(context);
    const page = await oncePerRequest(context, "auditEvents", () => this.trail.search(auditFilter(filter), first ?? EVENTS_PAGE_DEFAULT, after ?? null));
    return AuditEventConnection.from(page, identity.sessionId);
  }

  /** Over WebSocket only (docs/live.md): the connection's instance tails the trail for it. */
  @Authorized("ADMIN")
  @Subscription(() => AuditEvent, {
    name: "auditEvents",
    description:
      "Every audit event as it is written, on any instance, that passes the filter (as the auditEvents query filters). ADMIN only. A subscriber that falls LIVE_AUDIT_MAX_QUEUED events behind gets a SUBSCRIBER_TOO_SLOW error and the subscription ends; the trail holds what it missed.",
    subscribe: ({ args, context }) => {
      const { live, identity } = context as RequestContext;
      if (!live) throw authenticationRequired();
      // Accepted fail-open: the roles are the token's, unconfirmed; a demoted admin's token still claims ADMIN.
      if (identity?.user === null) throw rolesUnconfirmed();
      return live.auditEvents(auditFilter((args as { filter?: AuditEventFilter | null }).filter ?? null));
    },
  })
  auditEventsLive(
    @Root() item: AuditFeedItem,
    @Arg("filter", () => AuditEventFilter, { nullable: true }) _filter: AuditEventFilter | null,
    @Ctx() context: RequestContext,
  ): AuditEvent {
    if (isOverflow(item)) throw subscriberTooSlow();
    return AuditEvent.from(item, signedIn(context).sessionId);
  }
}

/** The GraphQL filter as the trail takes it: instants as epoch ms. */
function auditFilter(filter: AuditEventFilter | null): AuditFilter {
  return {
    userId: filter?.userId,
    actorId: filter?.actorId,
    types: filter?.types,
    from: filter?.from?.getTime() ?? null,
    to: filter?.to?.getTime() ?? null,
  };
}

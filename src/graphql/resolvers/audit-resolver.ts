import { Arg, Authorized, Ctx, Int, Query, Resolver } from "type-graphql";
import { EVENTS_PAGE_DEFAULT, EVENTS_PAGE_MAX, type AuditTrail } from "../../auth/audit-trail";
import type { RequestContext } from "../../context/context";
import { oncePerRequest } from "../once-per-request";
import { AuditEventConnection, AuditEventFilter, SecurityEventConnection } from "../types/security-event";
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
    const page = await oncePerRequest(context, "auditEvents", () =>
      this.trail.search(
        {
          userId: filter?.userId,
          actorId: filter?.actorId,
          types: filter?.types,
          from: filter?.from?.getTime() ?? null,
          to: filter?.to?.getTime() ?? null,
        },
        first ?? EVENTS_PAGE_DEFAULT,
        after ?? null,
      ),
    );
    return AuditEventConnection.from(page, identity.sessionId);
  }
}

import { Arg, Authorized, Ctx, ID, Int, Mutation, Query, Resolver } from "type-graphql";
import type { Sessions } from "../../auth/sessions/sessions";
import type { RequestContext } from "../../context/context";
import { oncePerRequest } from "../rules/once-per-request";
import { Session } from "../types/session";
import { signedIn } from "./identity";

@Resolver(() => Session)
export class SessionResolver {
  constructor(private readonly sessionService: Sessions) {}

  @Authorized()
  @Query(() => [Session], { description: "The caller's live sessions, newest first." })
  async sessions(@Ctx() context: RequestContext): Promise<Session[]> {
    const identity = signedIn(context);
    const records = await oncePerRequest(context, "sessions", () => this.sessionService.list(identity.userId));
    return records.map((record) => Session.from(record, identity.sessionId));
  }

  @Authorized()
  @Mutation(() => Boolean, {
    description: "Ends one of the caller's sessions: its refresh token and access tokens are refused at once.",
  })
  async revokeSession(@Ctx() context: RequestContext, @Arg("id", () => ID) id: string): Promise<boolean> {
    await this.sessionService.revoke(signedIn(context), id, context);
    return true;
  }

  @Authorized()
  @Mutation(() => Int, {
    description: "Ends every session of the caller except this one: their tokens are refused at once. Returns how many were live.",
  })
  async logoutOthers(@Ctx() context: RequestContext): Promise<number> {
    return this.sessionService.signOutOthers(signedIn(context), context);
  }

  @Authorized()
  @Mutation(() => Int, {
    description: "Ends every session of the caller, this one included; returns how many were live.",
  })
  async logoutAll(@Ctx() context: RequestContext): Promise<number> {
    const ended = await this.sessionService.signOutEverywhere(signedIn(context), context);
    context.refreshCookie.clear();
    return ended;
  }
}

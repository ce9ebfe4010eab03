import { Authorized, Resolver, Root, Subscription } from "type-graphql";
import type { RequestContext } from "../../context/context";
import { authenticationRequired } from "../../errors";
import type { SessionEventRecord } from "../../live/session-events";
import { SessionEvent } from "../types/session-event";

/** Subscriptions run over WebSocket only (docs/live.md); each connection is authenticated in connection_init. */
@Resolver()
export class SessionEventsResolver {
  @Authorized()
  @Subscription(() => SessionEvent, {
    description:
      "Events about the signed-in user's other sessions, as they happen on any instance: SIGNED_IN, SESSION_ENDED, PASSWORD_CHANGED, ROLES_CHANGED, IDENTITY_LINKED, IDENTITY_UNLINKED. This connection's own session ending is its close frame (4401), not an event.",
    subscribe: ({ context }) => {
      const live = (context as RequestContext).live;
      if (!live) throw authenticationRequired();
      return live.sessionEvents();
    },
  })
  sessionEvents(@Root() event: SessionEventRecord): SessionEvent {
    return SessionEvent.from(event);
  }
}

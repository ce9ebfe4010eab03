import type { BackchannelDelivery, BackchannelLogoutStore } from "../ports/backchannel-logout";
import type { RedisCore } from "./core";

/**
 * One hash tag for the whole of back-channel logout: the links and the queue move together in one
 * script, so on a Cluster they share a slot (one node holds it; the volume is a few entries per
 * sign-in at an app, far below what one node serves).
 */
const TAG = "auth:{oauth-bcl}";
const bclKeys = {
  links: (userId: string) => `${TAG}:links:${userId}`,
  users: `${TAG}:users`,
  due: `${TAG}:due`,
  items: `${TAG}:items`,
  perClient: `${TAG}:per-client`,
  sequence: `${TAG}:seq`,
};

type Run = (...args: (string | number)[]) => Promise<unknown>;

/** The links and the queue on the store's Redis (single, Sentinel or Cluster), scripts from lua/backchannel-logout.ts. */
export function redisBackchannelLogout(core: RedisCore): BackchannelLogoutStore {
  const { client } = core;
  const command = (name: "bclEnqueue" | "bclClaim" | "bclFinish") => (client as unknown as Record<string, Run>)[name]!.bind(client);
  const parse = (raw: string): BackchannelDelivery => {
    const item = JSON.parse(raw) as BackchannelDelivery;
    return { id: String(item.id), userId: String(item.userId), sessionId: String(item.sessionId), clientId: String(item.clientId), queuedAt: Number(item.queuedAt), attempts: Number(item.attempts) };
  };
  return {
    async linkBackchannelSession(userId, sessionId, clientId, now, ttlMs) {
      const links = bclKeys.links(userId);
      await core.guard(() =>
        client.multi().zadd(links, now, `${sessionId} ${clientId}`).pexpire(links, ttlMs).zadd(bclKeys.users, now, userId).zremrangebyscore(bclKeys.users, "-inf", `(${now - ttlMs}`).exec(),
      );
    },

    async backchannelLinks(userId, staleBefore) {
      const raw = await core.guard(() => client.zrangebyscore(bclKeys.links(userId), staleBefore, "+inf", "WITHSCORES"));
      const links = [];
      for (let i = 0; i < raw.length; i += 2) {
        const member = raw[i]!;
        const space = member.indexOf(" ");
        links.push({ sessionId: member.slice(0, space), clientId: member.slice(space + 1), linkedAt: Number(raw[i + 1]) });
      }
      return links;
    },

    backchannelUsers(offset, limit) {
      return core.guard(() => client.zrange(bclKeys.users, String(offset), String(offset + limit - 1)));
    },

    async enqueueBackchannelLogouts(userId, scope, now, bounds) {
      const target = scope.kind === "session" ? scope.sessionId : scope.kind === "others" ? scope.keepSessionId : scope.kind === "client" ? scope.clientId : "";
      const out = (await core.guard(() =>
        command("bclEnqueue")(
          bclKeys.links(userId), bclKeys.users, bclKeys.due, bclKeys.items, bclKeys.perClient, bclKeys.sequence,
          userId, scope.kind, target, now, bounds.staleBefore, bounds.linkedBefore, bounds.maxPerClient, bounds.maxTotal,
        ),
      )) as [number, ...string[]];
      const [dropped, ...items] = out;
      return { dropped: Number(dropped), queued: items.map(parse) };
    },

    async claimBackchannelDelivery(now, leaseMs) {
      const raw = (await core.guard(() => command("bclClaim")(bclKeys.due, bclKeys.items, now, leaseMs))) as string | null;
      return raw === null ? null : parse(raw);
    },

    async finishBackchannelDelivery(id) {
      await core.guard(() => command("bclFinish")(bclKeys.due, bclKeys.items, bclKeys.perClient, id));
    },

    async retryBackchannelDelivery(id, dueAt) {
      await core.guard(() => client.zadd(bclKeys.due, "XX", dueAt, id));
    },

    backchannelQueueSize() {
      return core.guard(() => client.hlen(bclKeys.items));
    },
  };
}

import { Cluster } from "ioredis";
import type { Logger } from "pino";
import { encodeLiveEvent, LIVE_CHANNEL, parseLiveEvent, type LiveEvent } from "@revocable-auth/verifier/internal";
import type { RedisConfig } from "../config";
import { createRedisClient, disconnectOnce, type RedisClient } from "../store/redis/connection";
import type { LiveChannel, LiveListener } from "./channel";

/**
 * Redis pub/sub. Publishing is one command on the store's connection; listening takes a dedicated
 * subscriber connection (a connection in subscribe mode can send nothing else). On a Cluster the
 * channel is sharded (SPUBLISH/SSUBSCRIBE, ioredis' `shardedSubscribers`): a message travels only
 * within the shard that owns the channel's slot instead of over the whole cluster bus.
 */
export class RedisChannel implements LiveChannel {
  private readonly subscriber: RedisClient;
  private readonly sharded: boolean;
  private listener: LiveListener | null = null;

  constructor(
    private readonly publisher: RedisClient,
    config: RedisConfig,
    timeoutMs: number,
    private readonly logger: Logger,
  ) {
    this.sharded = config.mode === "cluster";
    this.subscriber = createRedisClient(config, timeoutMs, { subscriber: true });
  }

  async publish(event: LiveEvent): Promise<void> {
    const message = encodeLiveEvent(event);
    if (this.sharded) await (this.publisher as Cluster).spublish(LIVE_CHANNEL, message);
    else await this.publisher.publish(LIVE_CHANNEL, message);
  }

  async listen(listener: LiveListener): Promise<void> {
    this.listener = listener;
    const deliver = (channel: string, message: string) => {
      if (channel !== LIVE_CHANNEL) return;
      const event = parseLiveEvent(message);
      if (event) this.listener?.event(event);
    };
    this.subscriber.on(this.sharded ? "smessage" : "message", deliver);
    this.subscriber.on("error", (error: Error) => this.logger.debug({ err: { name: error.name, message: error.message } }, "live subscriber connection error"));
    await new Promise<void>((resolve, reject) => {
      this.subscriber.once("ready", resolve);
      this.subscriber.connect().catch(reject);
    });
    try {
      if (this.sharded) await (this.subscriber as Cluster).ssubscribe(LIVE_CHANNEL);
      else await this.subscriber.subscribe(LIVE_CHANNEL);
    } catch (error) {
      disconnectOnce(this.subscriber);
      if (!/NOPERM/.test((error as Error).message)) throw error;
      // Redis 7 ACL users get no channel unless granted one (acl-pubsub-default resetchannels).
      throw new Error(`the Redis user may not use the channel ${LIVE_CHANNEL}, which closes live connections on revocation: grant it with ACL SETUSER <user> &${LIVE_CHANNEL} (see docs/live.md)`);
    }
    // ioredis subscribes again by itself after a reconnect; from then on, re-check everything.
    const resubscribed = () => {
      this.logger.info("live subscriber reconnected: re-checking every live connection");
      this.listener?.resubscribed();
    };
    if (this.sharded) this.subscriber.on("subscribersReady", resubscribed);
    else this.subscriber.on("ready", resubscribed);
  }

  async close(): Promise<void> {
    this.listener = null;
    disconnectOnce(this.subscriber);
  }
}

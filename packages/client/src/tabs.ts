import { openChannel, type ChannelFactory, type ChannelLike } from "./environment.js";
import type { SecondFactor, Session } from "./session-state.js";
import type { SessionEvent } from "./live.js";

/**
 * What one tab tells the others. A tab that held the refresh lock always says how it ended
 * (`session`, `signedOut` or `refreshFailed`) before it lets go, so the next tab in line can use
 * that instead of refreshing again. Access tokens travel only in memory, between tabs of one origin.
 */
export type TabMessage =
  | { readonly type: "session"; readonly session: Session }
  | { readonly type: "signedOut"; readonly reason: string }
  | { readonly type: "refreshFailed" }
  /** The API refused `accessToken` for a second factor: a tab holding a newer token ignores it. */
  | { readonly type: "secondFactor"; readonly reason: SecondFactor; readonly accessToken?: string }
  | { readonly type: "sessionEvent"; readonly event: SessionEvent };

export interface Tabs {
  post(message: TabMessage): void;
  close(): void;
}

/** Every other tab of the origin over a BroadcastChannel; none where there is no BroadcastChannel. */
export function connectTabs(Channel: ChannelFactory | null, name: string, receive: (message: TabMessage) => void): Tabs {
  if (!Channel) return { post() {}, close() {} };
  const channel: ChannelLike = openChannel(Channel, name);
  channel.onmessage = ({ data }) => receive(data as TabMessage);
  return { post: (message) => channel.postMessage(message), close: () => channel.close() };
}

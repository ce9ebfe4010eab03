import { keys } from "@revocable-auth/verifier/internal";
import type { MailTokenPurpose, MailTokenRecord, MailTokenStore, PresentedMailToken } from "../store";
import { parseJson, type RedisCore } from "./core";

/** The tokens of mailed links, on the user's slot. */
export function redisMailTokens(core: RedisCore): MailTokenStore {
  return {
    async putMailToken(userId: string, purpose: MailTokenPurpose, token: MailTokenRecord): Promise<void> {
      // Expires on its own too; the scripts compare expiresAt with the API's clock, the way tests move it.
      await core.guard(() => core.client.set(keys.mailToken(userId, purpose), JSON.stringify(token), "PXAT", Math.max(token.expiresAt, Date.now() + 1000)));
    },

    readMailToken(userId: string, purpose: MailTokenPurpose, now: number): Promise<MailTokenRecord | null> {
      return core.guard(async () => {
        const record = parseJson<MailTokenRecord>(await core.client.get(keys.mailToken(userId, purpose)));
        return record && record.expiresAt > now ? record : null;
      });
    },

    mailTokenMatches(token: PresentedMailToken, purpose: MailTokenPurpose): Promise<boolean> {
      return core.guard(async () => {
        const record = parseJson<MailTokenRecord>(await core.client.get(keys.mailToken(token.userId, purpose)));
        return record !== null && record.hash === token.hash && record.expiresAt > token.now;
      });
    },

    takeMailToken(token: PresentedMailToken, purpose: MailTokenPurpose): Promise<MailTokenRecord | null> {
      return core.guard(async () => parseJson<MailTokenRecord>(await core.script("takeMailToken", [keys.mailToken(token.userId, purpose)], [token.hash, token.now])));
    },
  };
}

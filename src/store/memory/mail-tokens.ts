import type { MailTokenPurpose, MailTokenRecord, MailTokenStore, PresentedMailToken } from "../store";
import type { MemoryCore } from "./core";

/** The tokens of mailed links. */
export function memoryMailTokens(core: MemoryCore): MailTokenStore {
  return {
    async putMailToken(userId: string, purpose: MailTokenPurpose, token: MailTokenRecord): Promise<void> {
      core.mailTokens.set(`${userId}/${purpose}`, token);
    },

    async readMailToken(userId: string, purpose: MailTokenPurpose, now: number): Promise<MailTokenRecord | null> {
      const record = core.mailTokens.get(`${userId}/${purpose}`);
      return record && record.expiresAt > now ? record : null;
    },

    async mailTokenMatches(token: PresentedMailToken, purpose: MailTokenPurpose): Promise<boolean> {
      const record = core.mailTokens.get(`${token.userId}/${purpose}`);
      return record !== undefined && record.hash === token.hash && record.expiresAt > token.now;
    },

    async takeMailToken(token: PresentedMailToken, purpose: MailTokenPurpose): Promise<MailTokenRecord | null> {
      return core.takeToken(token, purpose);
    },
  };
}

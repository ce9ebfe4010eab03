import {
  ConfirmTotpDocument,
  DisableTotpDocument,
  EnrollTotpDocument,
  RequestPasswordResetDocument,
  SecurityEventsDocument,
  VerifyMfaDocument,
} from "../../schema/generated/graphql";
import { startApi, type TestApi } from "../support/api";
import { login, PASSWORD, register, send } from "../support/client";
import { Mailbox } from "../support/mailbox";
import { startRedis, type TestRedis } from "../support/redis";
import { testClock, totpCode } from "../support/totp";

/**
 * The flows built beside the audit trail (mail, the second factor) write to it through the one
 * Audit.record, and the second factor's notices go out as mail: a user reads "recovery code used"
 * in securityEvents and in their inbox.
 */
describe("the flows' events: in the trail, and mailed where they are notices", () => {
  let redis: TestRedis;
  let mailbox: Mailbox;
  let api: TestApi;
  const clock = testClock();

  beforeAll(async () => {
    redis = await startRedis();
    mailbox = await Mailbox.start();
    api = await startApi(redis.url, { MAIL_URL: mailbox.url, APP_URL: "https://app.example.com", MAIL_FROM: "auth@example.com" }, clock);
  });

  afterAll(async () => {
    await api?.stop();
    await mailbox?.stop();
    await redis?.stop();
  });

  const typesSeenBy = async (token: string) => {
    const page = await send(api.url, SecurityEventsDocument, { first: 50 }, { token });
    return page.data!.securityEvents.edges.map((edge) => edge.node.type);
  };

  it("records a reset request, the second factor's enrolment, verification and disabling, and mails the recovery-code and disable notices", async () => {
    const user = await register(api.url);
    expect((await send(api.url, RequestPasswordResetDocument, { email: user.user.email })).data?.requestPasswordReset).toBe(true);
    const secret = (await send(api.url, EnrollTotpDocument, { currentPassword: PASSWORD }, { token: user.accessToken })).data!.enrollTotp.secret;
    const confirmed = await send(api.url, ConfirmTotpDocument, { code: totpCode(secret, clock.step()) }, { token: user.accessToken });
    const { recoveryCodes, auth } = confirmed.data!.confirmTotp;
    clock.advanceSteps(1);

    const second = await login(api.url, user.user.email);
    const verified = await send(api.url, VerifyMfaDocument, { code: recoveryCodes[0]! }, { token: second.accessToken });
    expect(verified.data?.verifyMfa.mfaRequired).toBe(false);
    const recoveryMail = await mailbox.nth(user.user.email, /A recovery code was used/);
    expect(recoveryMail.text).toContain("9 unused codes are left");

    expect((await send(api.url, DisableTotpDocument, { code: totpCode(secret, clock.step()) }, { token: auth.accessToken })).data?.disableTotp).toBe(true);
    await mailbox.nth(user.user.email, /Two-step sign-in was turned off/);

    const types = await typesSeenBy(auth.accessToken);
    expect(types).toEqual(expect.arrayContaining(["PASSWORD_RESET_REQUESTED", "MFA_ENROLLED", "MFA_VERIFIED", "MFA_RECOVERY_CODE_USED", "MFA_DISABLED"]));
    // No notice carries a secret: none of the codes (used or not), nor the TOTP secret.
    for (const mail of mailbox.to(user.user.email)) {
      for (const secretText of [...recoveryCodes, ...recoveryCodes.map((code) => code.replace(/-/g, "")), secret]) expect(mail.text).not.toContain(secretText);
    }
  });
});

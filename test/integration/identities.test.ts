import { ChangePasswordDocument, LoginDocument, RegisterDocument } from "../../schema/generated/graphql";
import { PASSWORD, register, send } from "../support/client";
import { apiOnStore, type StoreMode } from "../support/stores";

let counter = 0;
const unique = () => `${process.pid}${++counter}${Date.now()}`;

describe.each<[StoreMode]>([["redis"], ["memory"]])("identities on the %s store", (storeKind) => {
  const apiOf = apiOnStore(storeKind);

  const registerAs = (email: string, password = PASSWORD) => send(apiOf().url, RegisterDocument, { input: { email, password } });
  const loginAs = (email: string, password = PASSWORD) => send(apiOf().url, LoginDocument, { input: { email, password } });

  it("makes an email typed in NFC and in NFD one account", async () => {
    const id = unique();
    const nfc = `jos\u00e9${id}@example.com`;
    const nfd = `jose\u0301${id}@example.com`;
    const { user } = await register(apiOf().url, { email: nfc });
    expect((await registerAs(nfd)).error).toMatchObject({ code: "BAD_USER_INPUT", reason: "EMAIL_TAKEN" });
    expect((await loginAs(nfd)).data?.login.user.id).toBe(user.id);
  });

  it("folds fullwidth letters into the same account (NFKC)", async () => {
    const id = unique();
    const { user } = await register(apiOf().url, { email: `jose${id}@example.com` });
    const fullwidth = `\uff4a\uff4f\uff53\uff45${id}@example.com`;
    expect((await registerAs(fullwidth)).error).toMatchObject({ reason: "EMAIL_TAKEN" });
    expect((await loginAs(fullwidth)).data?.login.user.id).toBe(user.id);
  });

  it("keeps a look-alike from another script a different account (a different mailbox)", async () => {
    const id = unique();
    const { user } = await register(apiOf().url, { email: `jose${id}@example.com` });
    const cyrillic = await registerAs(`j\u043ese${id}@example.com`);
    expect(cyrillic.data?.register.user.id).toBeDefined();
    expect(cyrillic.data?.register.user.id).not.toBe(user.id);
  });

  it("normalizes passwords to NFC before hashing and checking", async () => {
    const email = `pw${unique()}@example.com`;
    await register(apiOf().url, { email, password: "cr\u00e8me br\u00fbl\u00e9e!" });
    expect((await loginAs(email, "cre\u0300me bru\u0302le\u0301e!")).data?.login.user.email).toBe(email);
  });

  it("refuses strings with lone surrogates as BAD_USER_INPUT", async () => {
    const email = `sur${unique()}@example.com`;
    for (const result of [
      await registerAs(email, "password\ud800"),
      await registerAs(`x\udc00${email}`),
      await loginAs(email, "password\udfff"),
    ]) {
      expect(result.error).toMatchObject({ code: "BAD_USER_INPUT", reason: "INVALID_INPUT" });
      expect(result.error?.message).toMatch(/unpaired surrogate/);
    }
    const device = await send(apiOf().url, RegisterDocument, { input: { email, password: PASSWORD, device: "phone\ud83d" } });
    expect(device.error).toMatchObject({ code: "BAD_USER_INPUT", reason: "INVALID_INPUT" });
    // A well-formed astral character (a surrogate pair) is fine.
    expect((await registerAs(email, "password \ud83d\ude00")).data?.register.user.email).toBe(email);
  });

  it("refuses a new password with a lone surrogate in changePassword, and keeps the old one", async () => {
    const { user, accessToken } = await register(apiOf().url, { email: `chsur${unique()}@example.com` });
    const changed = await send(apiOf().url, ChangePasswordDocument, { currentPassword: PASSWORD, newPassword: "new password \ud800" }, { token: accessToken });
    expect(changed.error).toMatchObject({ code: "BAD_USER_INPUT", reason: "INVALID_INPUT" });
    expect(changed.error?.message).toMatch(/unpaired surrogate/);
    // Stored, it would have been the replacement character: any other lone surrogate's password.
    expect((await loginAs(user.email, "new password \ufffd")).error?.reason).toBe("INVALID_CREDENTIALS");
    expect((await loginAs(user.email)).data?.login.user.id).toBe(user.id);
  });
});

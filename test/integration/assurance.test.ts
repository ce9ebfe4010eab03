import { RefreshDocument } from "../../schema/generated/graphql";
import { login, register, send } from "../support/client";
import { claimsOf } from "../support/keys";
import { apiOnStore } from "../support/stores";

describe("the assurance claims in every access token", () => {
  const api = apiOnStore("redis");

  it("gives a password sign-in aal1 with amr [pwd], on register and on login", async () => {
    const registered = await register(api().url);
    expect(claimsOf(registered.accessToken)).toMatchObject({ aal: "aal1", amr: ["pwd"] });
    const loggedIn = await login(api().url, registered.user.email);
    expect(claimsOf(loggedIn.accessToken)).toMatchObject({ aal: "aal1", amr: ["pwd"] });
  });

  it("keeps the session's level through refreshes, and never puts it in the refresh token", async () => {
    const registered = await register(api().url);
    let refreshToken = registered.refreshToken!;
    for (let i = 0; i < 2; i++) {
      const refreshed = await send(api().url, RefreshDocument, { refreshToken });
      const payload = refreshed.data!.refresh;
      expect(claimsOf(payload.accessToken)).toMatchObject({ aal: "aal1", amr: ["pwd"] });
      expect(claimsOf(payload.refreshToken!)).not.toHaveProperty("aal");
      refreshToken = payload.refreshToken!;
    }
  });
});

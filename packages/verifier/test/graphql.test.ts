import { GraphQLError } from "graphql";
import { Redis } from "ioredis";
import { startRedis, type TestRedis } from "../../../test/support/redis";
import { authChecker, authContext, createVerifier, requireAal, type Identity } from "../src";

let redis: TestRedis;
let reader: Redis;
beforeAll(async () => {
  redis = await startRedis();
  reader = new Redis(redis.url);
});
afterAll(async () => {
  reader.disconnect();
  await redis.destroy();
});

const identity = (roles: Identity["roles"]): Identity => ({ userId: "u", sessionId: "s", jti: "j", roles, emailVerified: false, expiresAt: 0, user: null, aal: "aal1", amr: ["pwd"] });

async function thrown(work: () => unknown): Promise<GraphQLError> {
  try {
    await work();
  } catch (error) {
    if (error instanceof GraphQLError) return error;
    throw error;
  }
  throw new Error("expected a GraphQLError");
}

describe("the Apollo context helper", () => {
  const context = () => authContext(createVerifier({ issuer: "i", audience: "a", keys: { jwks: { keys: [] } }, redis: reader }));

  it("gives an anonymous request a null identity", async () => {
    expect(await context()({ req: { headers: {} } })).toEqual({ identity: null });
  });

  it("rejects a presented token that fails with the API's code, reason, status and header, for Apollo to answer", async () => {
    const error = await thrown(() => context()({ req: { headers: { authorization: "Bearer a.b.c" } } }));
    expect(error.message).toBe("The access token is malformed or its signature is invalid");
    expect(error.extensions).toEqual({
      code: "UNAUTHENTICATED",
      reason: "INVALID_TOKEN",
      http: { status: 401, headers: new Map([["www-authenticate", 'Bearer error="invalid_token"']]) },
    });
  });
});

describe("the type-graphql authChecker", () => {
  it("refuses an anonymous request with AUTHENTICATION_REQUIRED", async () => {
    const error = await thrown(() => authChecker({ context: { identity: null } }, []));
    expect(error.extensions).toEqual({ code: "UNAUTHENTICATED", reason: "AUTHENTICATION_REQUIRED" });
    expect(error.message).toBe("You must be logged in");
  });

  it("refuses a missing role with MISSING_ROLE, naming the roles", async () => {
    const error = await thrown(() => authChecker({ context: { identity: identity(["USER"]) } }, ["ADMIN"]));
    expect(error.extensions).toEqual({ code: "FORBIDDEN", reason: "MISSING_ROLE" });
    expect(error.message).toBe("This operation requires the ADMIN role");
  });

  it("lets a verified identity through, and one with any of the required roles", () => {
    expect(authChecker({ context: { identity: identity(["USER"]) } }, [])).toBe(true);
    expect(authChecker({ context: { identity: identity(["USER", "ADMIN"]) } }, ["ADMIN"])).toBe(true);
  });
});

describe("requireAal, for one operation that needs a second factor", () => {
  const at = (aal: Identity["aal"], user: Identity["user"]): Identity => ({ ...identity(["USER"]), aal, user });
  const user = (mfaEnabled?: boolean) => ({ id: "u", email: "u@example.com", roles: ["USER"] as const, disabled: false, mfaEnabled });

  it("lets an aal2 identity through", () => {
    expect(() => requireAal(at("aal2", user(true)), "aal2")).not.toThrow();
    expect(() => requireAal(at("aal1", user(false)), "aal1")).not.toThrow();
  });

  it("refuses aal1 with 403 MFA_REQUIRED when the user has a second factor, MFA_ENROLLMENT_REQUIRED when not", async () => {
    const required = await thrown(() => requireAal(at("aal1", user(true)), "aal2"));
    expect(required.extensions).toEqual({ code: "FORBIDDEN", reason: "MFA_REQUIRED", http: { status: 403, headers: new Map() } });
    const enrol = await thrown(() => requireAal(at("aal1", user()), "aal2"));
    expect(enrol.extensions).toMatchObject({ code: "FORBIDDEN", reason: "MFA_ENROLLMENT_REQUIRED" });
  });
});

import jwt from "jsonwebtoken";
import { KidReader, kidOf } from "../src/internal";

const SECRET = "kid-reader-test-secret-long-enough-for-hs256";
const sign = (header: Record<string, unknown>) => jwt.sign({ sub: "u" }, SECRET, { algorithm: "HS256", header: { alg: "HS256", ...header } });

describe("KidReader: kidOf with a memory of verified headers", () => {
  it("reads the same kid as kidOf, before and after the header is remembered", () => {
    const reader = new KidReader();
    const token = sign({ kid: "key-1" });
    expect(reader.read(token)).toBe("key-1");
    reader.remember(token, "key-1");
    const another = sign({ kid: "key-1" });
    expect(reader.read(another)).toBe(kidOf(another));
    expect(reader.read(sign({ kid: "key-2" }))).toBe("key-2");
  });

  it("keeps a remembered header without a kid as no kid", () => {
    const reader = new KidReader();
    const kidless = sign({});
    reader.remember(kidless, undefined);
    expect(reader.read(kidless)).toBeUndefined();
    expect(reader.read(sign({ kid: "key-1" }))).toBe("key-1");
  });

  it("reads garbage as no kid, and stays right after more headers than it remembers", () => {
    const reader = new KidReader();
    expect(reader.read("not-base64-json.payload.signature")).toBeUndefined();
    const tokens = Array.from({ length: 200 }, (_, i) => sign({ kid: `key-${i}` }));
    tokens.forEach((token, i) => reader.remember(token, `key-${i}`));
    tokens.forEach((token, i) => expect(reader.read(token)).toBe(`key-${i}`));
  });
});

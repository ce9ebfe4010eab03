import { decideChromium, USUAL_CHROMIUM_PATHS } from "../support/chromium";

const only = (...paths: string[]) => (path: string) => paths.includes(path);

describe("finding Chromium for the browser tests", () => {
  it("takes CHROMIUM_PATH first", () => {
    expect(decideChromium({ CHROMIUM_PATH: "/opt/chrome" }, only("/opt/chrome", "/usr/bin/chromium"))).toEqual({ run: "/opt/chrome" });
  });

  it("else looks in the usual locations, macOS's included", () => {
    expect(decideChromium({}, only("/usr/bin/chromium-browser"))).toEqual({ run: "/usr/bin/chromium-browser" });
    expect(decideChromium({}, only("/Applications/Chromium.app/Contents/MacOS/Chromium"))).toEqual({
      run: "/Applications/Chromium.app/Contents/MacOS/Chromium",
    });
  });

  it("skips outside CI with a message that says how to fix it", () => {
    const decision = decideChromium({}, only());
    expect(decision).toEqual({ skip: expect.stringContaining("set CHROMIUM_PATH") });
    expect((decision as { skip: string }).skip).toContain(USUAL_CHROMIUM_PATHS[0]);
  });

  it("fails in CI, and for a CHROMIUM_PATH that does not exist there", () => {
    expect(decideChromium({ CI: "true" }, only())).toEqual({ fail: expect.stringContaining("CI=true requires the browser tests") });
    expect(decideChromium({ CI: "true", CHROMIUM_PATH: "/nope" }, only("/usr/bin/chromium"))).toEqual({ fail: expect.stringContaining("CHROMIUM_PATH=/nope does not exist") });
  });
});

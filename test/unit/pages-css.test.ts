import { readFileSync } from "node:fs";
import { resolve } from "node:path";

/**
 * The hosted pages are themed by custom properties (docs/pages.md#theming): a colour written
 * anywhere else in pages.css is one a theme cannot change. Every colour literal (hex, a colour
 * function, a named colour) must be the value of a `--auth-…` declaration in `:root`.
 */
const CSS = readFileSync(resolve(__dirname, "../../templates/pages/pages.css"), "utf8");

/** Hex colours, colour functions, and the named colours a stylesheet would plausibly use. */
const COLOUR = /#[0-9a-f]{3,8}\b|\b(?:rgba?|hsla?|hwb|lab|lch|oklab|oklch|color)\(|\b(?:white|black|red|green|blue|gray|grey|silver|orange|yellow|purple|navy|teal|maroon)\b/gi;

/** The stylesheet without comments, and without the `:root` rule's custom-property declarations. */
function outsideRootProperties(css: string): string {
  const code = css.replace(/\/\*[\s\S]*?\*\//g, "");
  return code.replace(/:root\s*\{([^}]*)\}/g, (_rule, body: string) => body.split(";").filter((declaration) => !/^\s*--auth-[\w-]+\s*:/.test(declaration)).join(";"));
}

describe("pages.css", () => {
  it("names no colour outside the :root custom-property declarations", () => {
    expect(outsideRootProperties(CSS).match(COLOUR) ?? []).toEqual([]);
  });

  it("declares every custom property it uses", () => {
    const declared = new Set([...CSS.matchAll(/(--auth-[\w-]+)\s*:/g)].map((match) => match[1]));
    const used = [...CSS.matchAll(/var\((--auth-[\w-]+)\)/g)].map((match) => match[1]);
    expect(used.filter((name) => !declared.has(name))).toEqual([]);
  });

  it("would catch a colour written in a rule (the check itself)", () => {
    expect(outsideRootProperties(":root { --auth-color-x: #fff; }\n.a { border: 1px solid #d0d7de; color: rgb(0 0 0); }").match(COLOUR)).toEqual(["#d0d7de", "rgb("]);
    expect(outsideRootProperties(":root { --auth-color-x: #fff; color: white; }").match(COLOUR)).toEqual(["white"]);
  });
});

import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { buildAuthSchema, printAuthSchema } from "../graphql/schema";

/** `npm run schema`: rewrites schema/schema.graphql from the code. */
async function main(): Promise<void> {
  const target = resolve(__dirname, "../../schema/schema.graphql");
  writeFileSync(target, printAuthSchema(await buildAuthSchema()));
  process.stdout.write(`wrote ${target}\n`);
}

void main();

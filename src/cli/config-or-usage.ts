import { ConfigError } from "../config";

/**
 * The start every environment-configured command shares: it takes no arguments, and reads its
 * configuration once. Null means "print done, exit 2": an argument was given, or a variable is
 * missing or malformed (its message, then the usage).
 */
export function configOrUsage<T>(args: readonly string[], usage: string, load: () => T): T | null {
  if (args.length > 0) {
    process.stderr.write(`${usage}\n`);
    return null;
  }
  try {
    return load();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    process.stderr.write(`${error.message}\n${usage}\n`);
    return null;
  }
}

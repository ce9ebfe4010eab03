import { ASYMMETRIC_ALGORITHMS, generatePrivateJwk, type AsymmetricAlgorithm } from "../auth/tokens/signing-keys";

const USAGE = `Usage: npm run keys -- generate <${ASYMMETRIC_ALGORITHMS.join("|")}>
Prints a new private JWK (with kid and alg) to add to the "keys" array of JWT_KEYS_FILE.`;

/** `npm run keys -- generate ES256`: a new private key for the set, on stdout. */
function main(args: string[]): number {
  const [command, algorithm] = args;
  if (command !== "generate" || !(ASYMMETRIC_ALGORITHMS as readonly string[]).includes(algorithm ?? "")) {
    process.stderr.write(`${USAGE}\n`);
    return 2;
  }
  process.stdout.write(`${JSON.stringify(generatePrivateJwk(algorithm as AsymmetricAlgorithm), null, 2)}\n`);
  return 0;
}

process.exitCode = main(process.argv.slice(2));

import pino, { type Logger } from "pino";

/**
 * JSON logs. Anything that could carry a credential is redacted by path as a second line of
 * defence; the code itself never logs tokens, passwords or hashes.
 */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: "revocable-auth-api" },
      redact: {
        paths: ["req.headers.authorization", "req.headers.cookie", "*.password", "*.passwordHash", "*.token", "*.refreshToken", "*.accessToken"],
        censor: "[redacted]",
      },
    },
    destination,
  );
}

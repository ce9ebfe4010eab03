import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { resolve } from "node:path";

/** What the receiver logged for one request (test/support/backchannel-receiver.mjs). */
export interface ReceivedLogout {
  readonly path: string;
  readonly clientId: string;
  readonly ok: boolean;
  /** Epoch ms the request reached the receiver. */
  readonly at: number;
  readonly error?: string;
  readonly header?: Record<string, unknown>;
  readonly claims?: Record<string, unknown>;
  /** The logout token as it arrived (for the attacker cases: presented where it must not pass). */
  readonly token?: string;
}

export interface RelyingPartyOptions {
  readonly port: number;
  readonly issuer: string;
  readonly jwksUri: string;
  /** Receiver path → the client id whose `aud` it expects. */
  readonly clients: Record<string, string>;
}

export interface RelyingParty {
  readonly received: ReceivedLogout[];
  /** The logouts received for `clientId`, once `count` have come (or rejects after `withinMs`). */
  waitFor(clientId: string, count?: number, withinMs?: number): Promise<ReceivedLogout[]>;
  stop(): Promise<void>;
}

/** A relying party's back-channel logout receiver in a process of its own, listening on `port`. */
export async function startRelyingParty(options: RelyingPartyOptions): Promise<RelyingParty> {
  const child: ChildProcess = spawn(process.execPath, [resolve(__dirname, "backchannel-receiver.mjs"), JSON.stringify(options)], { stdio: ["ignore", "pipe", "inherit"] });
  const received: ReceivedLogout[] = [];
  let buffered = "";
  let listening!: () => void;
  const ready = new Promise<void>((resolve) => (listening = resolve));
  child.stdout!.on("data", (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      const line = JSON.parse(buffered.slice(0, newline)) as ReceivedLogout & { listening?: number };
      buffered = buffered.slice(newline + 1);
      if (line.listening !== undefined) listening();
      else received.push(line);
    }
  });
  await ready;
  return {
    received,
    async waitFor(clientId, count = 1, withinMs = 15_000) {
      const deadline = Date.now() + withinMs;
      for (;;) {
        const got = received.filter((logout) => logout.clientId === clientId);
        if (got.length >= count) return got;
        if (Date.now() > deadline) throw new Error(`${got.length} of ${count} logouts for ${clientId} within ${withinMs} ms: ${JSON.stringify(received)}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
}

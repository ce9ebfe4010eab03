import { loadConfig } from "./config";
import { startNotesService } from "./server";

async function main(): Promise<void> {
  const service = await startNotesService(loadConfig(process.env));
  process.stdout.write(`notes service ready at ${service.url}, subscriptions at ${service.wsUrl}\n`);
  const stop = () => void service.stop().then(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((error: unknown) => {
  process.stderr.write(`Failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});

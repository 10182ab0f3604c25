// Process entry: parse config, start Gavel, drain on SIGTERM/SIGINT.
import { loadConfig } from "./config";
import { startGavel } from "./server";

async function main() {
  let config;
  try {
    config = loadConfig();
  } catch (error) {
    console.error((error as Error).message);
    process.exit(2);
  }
  const gavel = await startGavel({ config });
  const stop = (signal: string) => {
    gavel.logger.info({ signal }, "shutting down: draining running auctions");
    gavel.close().then(
      () => process.exit(0),
      (err) => {
        gavel.logger.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});

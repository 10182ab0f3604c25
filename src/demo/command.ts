// `npm run demo [-- [--keep] [--leads N]]` and `gavel demo …`: runs the demo and prints its tables
// to stdout. With --keep, Gavel, its database and the buyers stay up until Ctrl-C (SIGINT or
// SIGTERM), so the leads can be looked up. Resolves with the exit code: 0 when it ran and shut
// down cleanly, 1 when it failed, 2 for bad arguments.
import { parseArgs } from "node:util";
import { runDemo } from "./run";
import { aborted, untilStopped } from "./stop-signal";

export const DEMO_USAGE = `Usage: npm run demo [-- [--keep] [--leads N]]    (or: gavel demo [--keep] [--leads N])

  --keep      keep Gavel, its database and the simulated buyers up after the run, until Ctrl-C,
              and print how to look a lead up (GET /v1/leads/{id} with the printed token)
  --leads N   how many leads to send (default 50)
`;

export async function demoCommand(args: string[]): Promise<number> {
  let keep: boolean;
  let leads: number;
  try {
    const { values } = parseArgs({
      args,
      options: { keep: { type: "boolean" }, leads: { type: "string" }, help: { type: "boolean", short: "h" } },
    });
    if (values.help) {
      process.stdout.write(DEMO_USAGE);
      return 0;
    }
    keep = values.keep ?? false;
    leads = values.leads === undefined ? 50 : Number(values.leads);
    if (!Number.isInteger(leads) || leads < 1 || leads > 10_000) throw new Error(`--leads must be a whole number from 1 to 10000, not '${values.leads}'`);
  } catch (error) {
    process.stderr.write(`demo: ${(error as Error).message}\n\n${DEMO_USAGE}`);
    return 2;
  }

  try {
    const summary = await runDemo({ leads, out: process.stdout, keep });
    if (!keep) return 0;
    // Until now Ctrl-C ended the process as usual; from here it shuts the kept Gavel and buyers down.
    await untilStopped(async (stop) => {
      await aborted(stop);
      await summary.close();
    });
    return 0;
  } catch (error) {
    console.error("demo failed:", error);
    return 1;
  }
}

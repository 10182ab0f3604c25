// `gavel <command>`: the server and its operator tools in one command.
//
//   gavel serve                      run the server (same as `npm start`)
//   gavel migrate                    apply database migrations
//   gavel demo [--keep]              the self-contained demo (--keep: stays up until Ctrl-C)
//   gavel buyers [--port N]          simulated buyers on loopback until Ctrl-C, for a Gavel to sell to
//   gavel export [--out FILE]        write the configuration as YAML (secrets as ${NAME:-***} references)
//   gavel apply FILE [--dry-run]     make the configuration match FILE (`-` reads stdin)
//
// export and apply open the database directly (DATABASE_URL, or the embedded one in GAVEL_DATA_DIR)
// through the same store code as the HTTP API. The embedded database can be opened by one process
// at a time: stop the server first, or use POST /v1/config/apply against the running server.
import { readFileSync, writeFileSync } from "node:fs";
import { userInfo } from "node:os";
import { parseArgs } from "node:util";
import { loadConfig } from "./config";
import { migrateDatabase, openDatabase } from "./db/client";
import { GavelError } from "./errors";
import { applyConfig, exportConfig, formatPlan } from "./resources/apply";
import { databaseTarget } from "./server";

const USAGE = `Usage: gavel <command>

  serve                      run the server (PORT, DATABASE_URL or GAVEL_DATA_DIR, ADMIN_TOKEN, …)
  migrate                    apply database migrations
  demo [--keep] [--leads N]  run the demo: simulated buyers, 50 leads, then exit (--keep: Gavel,
                             its database and the buyers stay up until Ctrl-C, to look leads up)
  buyers [--port N]          simulated buyers on 127.0.0.1:4101-4104 (from N) until Ctrl-C; prints
                             their ping and post URLs, then every answer they send
  export [--out FILE]        print the configuration as YAML; secrets become \${NAME:-***}
                             references: NAME's value where it is set, else the stored secret
  apply FILE [--dry-run]     make the configuration match FILE ('-' for stdin); --dry-run only
                             prints the plan. \${ENV} references are read from the environment.

export and apply use DATABASE_URL, or the embedded database in GAVEL_DATA_DIR (stop the server
first: the embedded database opens in one process at a time; or use POST /v1/config/apply).
`;

async function withDatabase<T>(run: (db: Awaited<ReturnType<typeof openDatabase>>) => Promise<T>): Promise<T> {
  const config = loadConfig();
  const target = databaseTarget(config);
  const database = await openDatabase(target);
  try {
    await migrateDatabase(target, database);
    return await run(database);
  } finally {
    await database.close();
  }
}

/**
 * Why `export` must not write to stdout, if it must not: `npm run gavel -- export > FILE` has npm
 * print its banner ("> gavel@0.1.0 gavel" and the command) on the same stdout, ahead of the file.
 * npm tells its scripts how it was run: `npm_command` is `run` (`run-script`), and
 * `npm_config_loglevel` is `silent` only under `--silent`, when it prints no banner.
 */
function npmBannerOnStdout(env: NodeJS.ProcessEnv = process.env): string | undefined {
  const run = env.npm_command === "run" || env.npm_command === "run-script";
  if (!run || env.npm_config_loglevel === "silent" || process.stdout.isTTY) return undefined;
  return [
    "gavel export: not writing to stdout: `npm run` has already printed its banner there, and the file would not apply.",
    "Use `npx gavel export > gavel.yaml`, `npm run --silent gavel -- export > gavel.yaml`, or `--out gavel.yaml`.",
    "",
  ].join("\n");
}

function cliActor() {
  let user = "unknown";
  try {
    user = userInfo().username;
  } catch {}
  return { id: `cli:${user}`, name: user, via: "cli" as const };
}

async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case "serve":
      await import("./main");
      return -1; // keeps running
    case "migrate":
      await import("./db/migrate-cli");
      return 0;
    case "demo": {
      const { demoCommand } = await import("./demo/command");
      return demoCommand(rest);
    }
    case "buyers": {
      const { buyersCommand } = await import("./demo/serve-buyers");
      return buyersCommand(rest);
    }
    case "export": {
      const { values } = parseArgs({ args: rest, options: { out: { type: "string", short: "o" } } });
      const banner = !values.out && npmBannerOnStdout();
      if (banner) {
        process.stderr.write(banner);
        return 2;
      }
      const { text, secrets } = await withDatabase((database) => exportConfig(database.db));
      if (values.out) {
        writeFileSync(values.out, text);
        process.stderr.write(`wrote ${values.out}\n`);
      } else process.stdout.write(text);
      if (secrets.length)
        process.stderr.write(
          `secrets are references: set these where you apply to set or change a secret (unset, each keeps the stored one): ${secrets.join(", ")}\n`,
        );
      return 0;
    }
    case "apply": {
      const { values, positionals } = parseArgs({ args: rest, allowPositionals: true, options: { "dry-run": { type: "boolean" } } });
      if (positionals.length !== 1) {
        process.stderr.write(USAGE);
        return 2;
      }
      const file = positionals[0];
      const text = file === "-" ? readFileSync(0, "utf8") : readFileSync(file, "utf8");
      try {
        const result = await withDatabase((database) =>
          applyConfig(database.db, text, { dryRun: values["dry-run"] ?? false, actor: cliActor(), env: process.env }),
        );
        process.stdout.write(formatPlan(result));
        return 0;
      } catch (error) {
        if (!(error instanceof GavelError) || !error.extra.errors) throw error;
        process.stderr.write(`${error.message}\n`);
        for (const e of error.extra.errors) {
          const where = e.line ? `${file}:${e.line}:${e.col}` : file;
          process.stderr.write(`  ${where}  ${e.path}: ${e.message}\n`);
        }
        return 1;
      }
    }
    case undefined:
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`gavel: unknown command '${command}'\n\n${USAGE}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (error) => {
    process.stderr.write(`gavel: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exitCode = 1;
  },
);

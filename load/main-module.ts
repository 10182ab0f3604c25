// True when the module at `url` is the script node was started with (not merely imported).
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

export function isMain(url: string): boolean {
  return process.argv[1] !== undefined && fileURLToPath(url) === resolve(process.argv[1]);
}

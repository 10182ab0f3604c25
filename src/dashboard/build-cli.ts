// `npm run build` (after the server bundle): writes the dashboard to dist/dashboard/, where the
// bundled server (dist/main.js) serves it from, so `npm start` builds nothing at run time.
import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { buildDashboard } from "./build";

const out = join(process.argv[2] ?? "dist", "dashboard");
const bundle = await buildDashboard();
await rm(out, { recursive: true, force: true });
await mkdir(join(out, "assets"), { recursive: true });
await writeFile(join(out, "index.html"), bundle.index.body);
for (const file of bundle.assets.values()) await writeFile(join(out, "assets", file.name), file.body);

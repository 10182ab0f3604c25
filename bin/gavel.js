#!/usr/bin/env node
// The `gavel` command (package.json "bin"): runs src/cli.ts through tsx, as `npm start` runs the
// server, so the command and the server are the same TypeScript with no build step.
import { register } from "tsx/esm/api";

register();
await import("../src/cli.ts");

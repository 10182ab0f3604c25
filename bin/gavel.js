#!/usr/bin/env node
// The `gavel` command (package.json "bin"): runs src/cli.ts through tsx, so the command needs no
// build step (`gavel serve` too). `npm start` instead runs the esbuild bundle, dist/main.js.
import { register } from "tsx/esm/api";

register();
await import("../src/cli.ts");

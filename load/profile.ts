// Top frames of a V8 CPU profile (`npm run bench -- --cpu-prof` writes one per scenario):
//   npx tsx load/profile.ts load/results/<stamp>-profiles/gavel-S1.cpuprofile [rows]
// Self time by function, and self time summed by package (node_modules/<name>, node: internals,
// src/ files), which is usually the more telling view.
import { existsSync, readFileSync } from "node:fs";
import { SourceMap } from "node:module";
import { fileURLToPath } from "node:url";
import { isMain } from "./main-module";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number };
  children?: number[];
}
interface Profile {
  nodes: Node[];
  samples: number[];
  timeDeltas: number[];
  startTime: number;
  endTime: number;
}

function owner(url: string): string {
  if (!url) return "(native/v8)";
  if (url.startsWith("node:")) return url.split("/")[0];
  const nm = url.lastIndexOf("node_modules/");
  if (nm >= 0) {
    const rest = url.slice(nm + "node_modules/".length).split("/");
    return rest[0].startsWith("@") ? `${rest[0]}/${rest[1]}` : rest[0];
  }
  const src = url.indexOf("/src/");
  return src >= 0 ? url.slice(src + 1) : url.replace(/^file:\/\//, "");
}

/**
 * Points frames of a bundled file (`dist/main.js`, as `npm start` runs Gavel) back at their source
 * files through the bundle's source map, so the views below name `src/…` files, not bundle lines.
 */
export function resolveSourceMaps(profile: Profile): Profile {
  const maps = new Map<string, SourceMap | null>();
  const mapFor = (url: string): SourceMap | null => {
    if (!maps.has(url)) {
      let map: SourceMap | null = null;
      try {
        const file = `${fileURLToPath(url)}.map`;
        if (existsSync(file)) map = new SourceMap(JSON.parse(readFileSync(file, "utf8")));
      } catch {
        map = null;
      }
      maps.set(url, map);
    }
    return maps.get(url)!;
  };
  for (const node of profile.nodes) {
    const f = node.callFrame;
    if (!f.url.startsWith("file://")) continue;
    const map = mapFor(f.url);
    if (!map) continue;
    const entry = map.findEntry(f.lineNumber, f.columnNumber ?? 0) as { originalSource?: string; originalLine?: number };
    if (!entry.originalSource) continue;
    const source = entry.originalSource.startsWith("file://") ? entry.originalSource : new URL(entry.originalSource, f.url).href;
    node.callFrame = { ...f, url: source, lineNumber: entry.originalLine ?? f.lineNumber };
  }
  return profile;
}

export function topFrames(profile: Profile, rows = 25): string {
  resolveSourceMaps(profile);
  const selfUs = new Map<number, number>();
  for (let i = 0; i < profile.samples.length; i++) selfUs.set(profile.samples[i], (selfUs.get(profile.samples[i]) ?? 0) + (profile.timeDeltas[i] ?? 0));
  const total = [...selfUs.values()].reduce((a, b) => a + b, 0);
  const byFunction = new Map<string, number>();
  const byOwner = new Map<string, number>();
  for (const node of profile.nodes) {
    const us = selfUs.get(node.id) ?? 0;
    if (!us) continue;
    const f = node.callFrame;
    const file = f.url ? `${owner(f.url)}${f.url.startsWith("node:") || !f.url ? "" : ":" + (f.lineNumber + 1)}` : "";
    const key = `${f.functionName || "(anonymous)"} ${file}`.trim();
    byFunction.set(key, (byFunction.get(key) ?? 0) + us);
    const o = f.url ? owner(f.url) : f.functionName.startsWith("(") ? f.functionName : "(native/v8)";
    byOwner.set(o, (byOwner.get(o) ?? 0) + us);
  }
  const fmt = (entries: Map<string, number>) =>
    [...entries.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, rows)
      .map(([k, us]) => `${((100 * us) / total).toFixed(1).padStart(5)} %  ${(us / 1000).toFixed(0).padStart(7)} ms  ${k}`)
      .join("\n");
  // Inclusive time of Gavel's own functions (src/), each counted once per call path.
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const inclusive = new Map<number, number>();
  const visit = (id: number): number => {
    const cached = inclusive.get(id);
    if (cached !== undefined) return cached;
    const node = byId.get(id)!;
    let us = selfUs.get(id) ?? 0;
    for (const child of node.children ?? []) us += visit(child);
    inclusive.set(id, us);
    return us;
  };
  const bySrc = new Map<string, number>();
  const walk = (id: number, open: Set<string>) => {
    const node = byId.get(id)!;
    const f = node.callFrame;
    let next = open;
    if (f.url.includes("/src/") && !f.url.includes("node_modules")) {
      const key = `${f.functionName || "(anonymous)"} ${owner(f.url)}:${f.lineNumber + 1}`;
      if (!open.has(key)) {
        bySrc.set(key, (bySrc.get(key) ?? 0) + visit(id));
        next = new Set(open).add(key);
      }
    }
    for (const child of node.children ?? []) walk(child, next);
  };
  walk(profile.nodes[0].id, new Set());
  return `profile: ${((profile.endTime - profile.startTime) / 1e6).toFixed(1)} s wall, ${(total / 1000).toFixed(0)} ms sampled\n\nself time by function\n${fmt(byFunction)}\n\nself time by package / file\n${fmt(byOwner)}\n\ninclusive time of Gavel's functions (src/)\n${fmt(bySrc)}\n`;
}

if (isMain(import.meta.url)) {
  const file = process.argv[2];
  if (!file) {
    console.error("usage: npx tsx load/profile.ts <file.cpuprofile> [rows]");
    process.exit(2);
  }
  process.stdout.write(topFrames(JSON.parse(readFileSync(file, "utf8")) as Profile, Number(process.argv[3] ?? 25)));
}

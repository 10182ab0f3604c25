// Reading README.md's recipes in tests: a section by its `## ` title, its `sh` blocks, and the JSON
// answers curl printed one after another.

/** The text of README's `## title` section, up to the next `## ` heading. */
export function section(readme: string, title: string): string {
  const start = readme.indexOf(`\n## ${title}\n`);
  if (start < 0) throw new Error(`README.md has no "## ${title}" section`);
  const end = readme.indexOf("\n## ", start + 1);
  return readme.slice(start, end < 0 ? undefined : end);
}

/** The bodies of the fenced `sh` blocks in `text`, in order. */
export const shBlocks = (text: string): string[] => [...text.matchAll(/^```sh\n([\s\S]*?)^```$/gm)].map((m) => m[1]);

/** Every top-level JSON object in `text` (curl prints answers without a newline between them). */
export function jsonObjects(text: string): any[] {
  const out: any[] = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
    } else if (ch === '"' && depth > 0) inString = true;
    else if (ch === "{" && depth++ === 0) start = i;
    else if (ch === "}" && depth > 0 && --depth === 0) out.push(JSON.parse(text.slice(start, i + 1)));
  }
  return out;
}

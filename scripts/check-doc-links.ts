// `npm run lint:docs`: every relative link in the README files and docs/*.md points at a file that exists and, with
// a `#fragment`, at a heading of that file (anchors as GitHub makes them). External links are not fetched: nothing
// here reaches the network. Exits 1 with one line per broken link.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const sources = ['README.md', 'bench/README.md', 'web/README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).map((f) => `docs/${f}`)];

/** The text outside fenced code blocks and inline code, where links are links. */
function prose(markdown: string): string {
  return markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '').replace(/`[^`\n]*`/g, '');
}

/** GitHub's heading anchors (github-slugger): lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  const withoutCode = markdown.replace(/^(```|~~~)[^\n]*\n[\s\S]*?^\1[^\n]*$/gm, '');
  for (const [, text] of withoutCode.matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const base = (text ?? '')
      .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
      .replace(/<[^>]+>/g, '')
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\p{M}\s_-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

const problems: string[] = [];
for (const source of sources) {
  const path = join(root, source);
  if (!existsSync(path)) continue;
  const text = readFileSync(path, 'utf8');
  for (const [, target] of prose(text).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)) {
    if (target === undefined || /^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
    const [file = '', fragment] = target.split('#', 2);
    const resolved = file === '' ? path : resolve(dirname(path), decodeURIComponent(file));
    if (!existsSync(resolved)) {
      problems.push(`${source}: ${target}: no such file ${relative(root, resolved)}`);
      continue;
    }
    if (fragment === undefined || fragment === '') continue;
    if (statSync(resolved).isDirectory() || !resolved.endsWith('.md')) {
      problems.push(`${source}: ${target}: a fragment on a file that is not Markdown`);
      continue;
    }
    if (!anchors(readFileSync(resolved, 'utf8')).has(fragment)) problems.push(`${source}: ${target}: no heading #${fragment} in ${relative(root, resolved)}`);
  }
}
if (problems.length > 0) {
  process.stderr.write(`${problems.join('\n')}\n`);
  process.exit(1);
}
process.stdout.write(`docs links: ${sources.length} files checked, every relative link resolves\n`);

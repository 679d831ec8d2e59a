import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * The README is the front door and docs/ the manual: every link between them
 * must resolve, to a file that exists and, with `#anchor`, to a heading of that
 * file as GitHub slugs it.
 */

const ROOT = join(__dirname, '..', '..');
const README = join(ROOT, 'README.md');
const DOCS = join(ROOT, 'docs');
const docPages = readdirSync(DOCS).filter((f) => f.endsWith('.md')).sort();
const pages = [README, ...docPages.map((f) => join(DOCS, f))];
const name = (file: string): string => relative(ROOT, file);

/** The text outside fenced code blocks; code spans become a placeholder without brackets. */
function prose(markdown: string): string {
  const out: string[] = [];
  let fence: string | undefined;
  for (const line of markdown.split('\n')) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence) {
      if (marker && marker[0] === fence[0] && marker.length >= fence.length) fence = undefined;
      out.push('');
    } else if (marker) {
      fence = marker;
      out.push('');
    } else {
      out.push(line.replace(/`[^`]*`/g, 'code'));
    }
  }
  return out.join('\n');
}

/** GitHub's heading slug: lowercase, punctuation other than `-` and `_` dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .replace(/\[([^\]]*)\]\([^)]*\)/g, '$1')
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}\p{Pc} -]/gu, '')
    .replace(/ /g, '-');
}

/** Every anchor a page's headings get, duplicates numbered -1, -2, ... as GitHub does. */
function anchors(markdown: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  let fence: string | undefined;
  for (const line of markdown.split('\n')) {
    const marker = /^\s*(`{3,}|~{3,})/.exec(line)?.[1];
    if (fence) {
      if (marker && marker[0] === fence[0] && marker.length >= fence.length) fence = undefined;
      continue;
    }
    if (marker) {
      fence = marker;
      continue;
    }
    const heading = /^ {0,3}#{1,6}\s+(.*?)(?:\s+#+)?\s*$/.exec(line)?.[1];
    if (heading === undefined) continue;
    const base = slug(heading);
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

/** The `[text](target)` links of a page, outside code. */
function links(markdown: string): Array<{ text: string; target: string }> {
  return [...prose(markdown).matchAll(/\[([^\]]*)\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g)].map((m) => ({ text: m[1]!, target: m[2]! }));
}

/** What is wrong with each link of `file`: a missing file or an anchor no heading has. */
function brokenLinks(file: string): string[] {
  const broken: string[] = [];
  for (const { text, target } of links(readFileSync(file, 'utf8'))) {
    if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, https:, mailto:
    const hash = target.indexOf('#');
    const path = decodeURIComponent(hash < 0 ? target : target.slice(0, hash));
    const anchor = hash < 0 ? undefined : decodeURIComponent(target.slice(hash + 1));
    const resolved = path === '' ? file : resolve(dirname(file), path);
    const where = `[${text}](${target})`;
    if (!existsSync(resolved)) {
      broken.push(`${where}: no file ${name(resolved)}`);
      continue;
    }
    if (anchor === undefined) continue;
    if (!resolved.endsWith('.md')) {
      broken.push(`${where}: an anchor into a file that is not markdown`);
      continue;
    }
    if (!anchors(readFileSync(resolved, 'utf8')).has(anchor)) broken.push(`${where}: no heading #${anchor} in ${name(resolved)}`);
  }
  return broken;
}

/** The README's "Contents" section. */
function contentsSection(readme: string): string {
  const match = /^## Contents\n([\s\S]*?)(?=^## )/m.exec(readme);
  if (!match) throw new Error('README.md has no "## Contents" section');
  return match[1]!;
}

describe('GitHub heading slugs', () => {
  it('lowercase, drop punctuation and backticks, turn spaces into hyphens, number duplicates', () => {
    expect(slug('How it differs from the Tomcat session managers')).toBe('how-it-differs-from-the-tomcat-session-managers');
    expect(slug('DynamoDB: storage, deploying, capacity')).toBe('dynamodb-storage-deploying-capacity');
    expect(slug('`DynamoDbStore` options')).toBe('dynamodbstore-options');
    expect(slug('What a 503 tells the client')).toBe('what-a-503-tells-the-client');
    expect(slug('Locking (`locking: all`) & leases')).toBe('locking-locking-all--leases');
    expect([...anchors('# A\n## B\n```sh\n# not a heading\n```\n## B\n## B\n')]).toEqual(['a', 'b', 'b-1', 'b-2']);
  });

  it('find links outside code only', () => {
    expect(links('see [x](a.md#b) and `[y](c.md)`\n```\n[z](d.md)\n```\n[`w`](e.md)')).toEqual([
      { text: 'x', target: 'a.md#b' },
      { text: 'code', target: 'e.md' },
    ]);
  });
});

describe('README.md and docs/', () => {
  it('there are docs pages', () => {
    expect(docPages.length).toBeGreaterThan(0);
  });

  it.each(pages.map((file) => [name(file), file]))('every relative link of %s resolves', (_name, file) => {
    expect(brokenLinks(file)).toEqual([]);
  });

  it.each(docPages.map((f) => [f]))('docs/%s starts with a title and a link back to the README', (f) => {
    const lines = readFileSync(join(DOCS, f), 'utf8').split('\n').filter((l) => l.trim() !== '');
    expect(lines[0]).toMatch(/^# \S/);
    const back = links(lines[1] ?? '');
    expect(back.map((l) => l.target)).toEqual(['../README.md']);
    expect(back[0]?.text).toMatch(/back to the README/);
  });

  it('README.md is under 20,000 characters', () => {
    expect(readFileSync(README, 'utf8').length).toBeLessThan(20_000);
  });

  it("README.md's contents list links to every docs page and every section of the README", () => {
    const readme = readFileSync(README, 'utf8');
    const listed = new Set(links(contentsSection(readme)).map((l) => l.target));
    for (const f of docPages) expect(listed).toContain(`docs/${f}`);
    const sections = [...readme.matchAll(/^## (.+)$/gm)].map((m) => slug(m[1]!)).filter((s) => s !== 'contents');
    for (const section of sections) expect(listed).toContain(`#${section}`);
  });

  it.each(pages.map((file) => [name(file), file]))('%s names no design document it lacks and no internal shorthand', (_name, file) => {
    const text = readFileSync(file, 'utf8');
    expect(text).not.toMatch(/DESIGN\.md/i);
    expect(text).not.toMatch(/\bseeds\b/i);
    expect(text).not.toMatch(/\bEH\b/);
  });
});

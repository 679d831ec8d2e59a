import type { Pattern } from './options';
import { describe } from './option-checks';

/**
 * Compiles ignore patterns. Strings match the whole input, like Java's
 * `Pattern.matches` in the Tomcat managers' configs; RegExp objects are used as given.
 * Returns the problems instead of throwing so option validation can list them all.
 */
export function compilePatterns(
  optionName: string,
  value: Pattern | readonly Pattern[] | undefined,
  stringFlags = '',
): { patterns: RegExp[]; problems: string[] } {
  const patterns: RegExp[] = [];
  const problems: string[] = [];
  if (value === undefined) return { patterns, problems };
  const list: readonly unknown[] = Array.isArray(value) ? value : [value];
  list.forEach((entry, i) => {
    const where = Array.isArray(value) ? `${optionName}[${i}]` : optionName;
    if (entry instanceof RegExp) {
      // A global/sticky regex keeps lastIndex between test() calls and would match every other request.
      patterns.push(entry.global || entry.sticky ? new RegExp(entry.source, entry.flags.replace(/[gy]/g, '')) : entry);
    } else if (typeof entry === 'string') {
      try {
        patterns.push(new RegExp(`^(?:${entry})$`, stringFlags));
      } catch (e) {
        problems.push(`${where}: "${entry}" is not a valid regular expression (${(e as Error).message})`);
      }
    } else {
      problems.push(`${where} must be a string or a RegExp, got ${describe(entry)}`);
    }
  });
  return { patterns, problems };
}

export function matchesAny(patterns: readonly RegExp[], input: string): boolean {
  for (const p of patterns) if (p.test(input)) return true;
  return false;
}

/** EnergyHub's ignore rules: a request whose path or any header name matches never writes. */
export function isIgnoredRequest(
  rules: { readonly ignoreUris: readonly RegExp[]; readonly ignoreHeaders: readonly RegExp[] },
  path: string,
  headers: object,
): boolean {
  if (rules.ignoreUris.length > 0 && matchesAny(rules.ignoreUris, path)) return true;
  if (rules.ignoreHeaders.length === 0) return false;
  return Object.keys(headers).some((name) => matchesAny(rules.ignoreHeaders, name));
}

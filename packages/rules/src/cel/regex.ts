/**
 * CEL's `matches` takes RE2 syntax; we run it on JS RegExp. The two agree on the common
 * subset, but JS adds features RE2 forbids precisely because they break its linear-time
 * guarantee (backreferences, lookaround), and JS backtracks, so a nested unbounded quantifier
 * such as `(a+)+` can take exponential time on a hostile string in an event. We therefore
 * refuse those constructs, and translate the RE2-only spellings rules commonly use
 * (leading `(?i)`-style flags, `(?P<name>…)`, `\A`, `\z`).
 */

export type RegexResult = { ok: true; re: RegExp } | { ok: false; reason: string };

interface Group {
  unbounded: boolean;
}

function isQuantifierAt(p: string, i: number): { unbounded: boolean; len: number } | undefined {
  const c = p[i];
  if (c === '*' || c === '+') return { unbounded: true, len: 1 };
  if (c === '?') return { unbounded: false, len: 1 };
  if (c === '{') {
    const m = /^\{(\d+)(,(\d*))?\}/.exec(p.slice(i));
    if (m) return { unbounded: m[2] !== undefined && m[3] === '', len: m[0].length };
  }
  return undefined;
}

/** Rewrites RE2 spellings into JS ones and rejects unsafe or unsupported constructs. */
function translate(pattern: string): { source: string; flags: string } | string {
  let p = pattern;
  let flags = 'u';
  const lead = /^\(\?([imsU]+)\)/.exec(p);
  if (lead) {
    const f = lead[1] as string;
    if (f.includes('U')) return 'the U (ungreedy) flag is not supported';
    for (const ch of f) if (!flags.includes(ch)) flags += ch;
    p = p.slice(lead[0].length);
  }
  let out = '';
  const stack: Group[] = [{ unbounded: false }];
  let inClass = false;
  for (let i = 0; i < p.length; i++) {
    const c = p[i] as string;
    if (c === '\\') {
      const n = p[i + 1] ?? '';
      if (!inClass && /[1-9]/.test(n)) return 'backreferences are not supported (RE2)';
      if (n === 'k') return 'named backreferences are not supported (RE2)';
      if (n === 'A' && !inClass) out += '^';
      else if (n === 'z' && !inClass) out += '$';
      else out += c + n;
      i++;
      continue;
    }
    if (inClass) {
      if (c === ']') inClass = false;
      out += c;
      continue;
    }
    if (c === '[') {
      inClass = true;
      out += c;
      // A `]` right after `[` or `[^` is a literal in RE2.
      if (p[i + 1] === '^') out += p[++i];
      if (p[i + 1] === ']') {
        out += '\\]';
        i++;
      }
      continue;
    }
    if (c === '(') {
      const rest = p.slice(i + 1, i + 4);
      if (rest.startsWith('?=') || rest.startsWith('?!') || rest.startsWith('?<=') || rest.startsWith('?<!')) {
        return 'lookaround assertions are not supported (RE2)';
      }
      if (rest.startsWith('?P<')) {
        out += '(?<';
        i += 3;
      } else if (rest.startsWith('?') && !rest.startsWith('?:') && !rest.startsWith('?<')) {
        return 'inline flag groups are only supported at the start of the pattern';
      } else out += c;
      stack.push({ unbounded: false });
      continue;
    }
    if (c === ')') {
      const g = stack.pop();
      if (!g || stack.length === 0) return 'unbalanced parenthesis';
      out += c;
      const q = isQuantifierAt(p, i + 1);
      if (q && q.unbounded && g.unbounded)
        return 'nested unbounded quantifiers are refused (catastrophic backtracking)';
      if (g.unbounded) (stack[stack.length - 1] as Group).unbounded = true;
      continue;
    }
    const q = isQuantifierAt(p, i);
    if (q) {
      if (q.unbounded) (stack[stack.length - 1] as Group).unbounded = true;
      out += p.slice(i, i + q.len);
      i += q.len - 1;
      continue;
    }
    out += c;
  }
  if (stack.length !== 1) return 'unbalanced parenthesis';
  return { source: out, flags };
}

export function compileRegex(pattern: string): RegexResult {
  const t = translate(pattern);
  if (typeof t === 'string') return { ok: false, reason: t };
  try {
    return { ok: true, re: new RegExp(t.source, t.flags) };
  } catch (err) {
    return { ok: false, reason: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * A small TOML reader for lockfiles (Cargo.lock, poetry.lock, pdm.lock, uv.lock, pylock.toml).
 * It covers what those files use: tables, arrays of tables (also nested, e.g.
 * `[[packages.attestation-identities]]`), dotted and quoted keys, basic/literal/multi-line
 * strings, integers, floats, booleans, date-times (kept as their text), arrays and inline
 * tables. It does not enforce every TOML rule (e.g. redefinition of keys just overwrites);
 * malformed input raises TomlError with the line number.
 */

export type TomlValue = string | number | boolean | TomlValue[] | TomlTable;
export interface TomlTable {
  [key: string]: TomlValue;
}

export class TomlError extends Error {
  constructor(
    message: string,
    readonly line: number,
  ) {
    super(`line ${line}: ${message}`);
    this.name = 'TomlError';
  }
}

const BARE_KEY_CHAR = /[A-Za-z0-9_-]/;
// Bare scalars: numbers, booleans, dates; anything else unquoted is an error.
const BARE_VALUE = /^[0-9A-Za-z_:.+\-]+(?: [0-9][0-9:.+\-Z]*)?/;

class Parser {
  private pos = 0;
  private line = 1;
  constructor(private readonly src: string) {}

  parse(): TomlTable {
    const root: TomlTable = {};
    let current = root;
    for (;;) {
      this.skipBlankAndComments();
      if (this.pos >= this.src.length) return root;
      const ch = this.src[this.pos];
      if (ch === '[') current = this.header(root);
      else {
        this.keyValue(current);
        this.endOfLine();
      }
    }
  }

  private fail(msg: string): never {
    throw new TomlError(msg, this.line);
  }

  private skipSpaces(): void {
    while (this.pos < this.src.length && (this.src[this.pos] === ' ' || this.src[this.pos] === '\t')) this.pos++;
  }

  private skipComment(): void {
    if (this.src[this.pos] === '#') while (this.pos < this.src.length && this.src[this.pos] !== '\n') this.pos++;
  }

  /** Whitespace, newlines and comments (between statements and inside arrays). */
  private skipBlankAndComments(): void {
    for (;;) {
      this.skipSpaces();
      this.skipComment();
      const ch = this.src[this.pos];
      if (ch === '\n') {
        this.line++;
        this.pos++;
      } else if (ch === '\r') this.pos++;
      else return;
    }
  }

  private endOfLine(): void {
    this.skipSpaces();
    this.skipComment();
    if (this.src[this.pos] === '\r') this.pos++;
    if (this.pos >= this.src.length) return;
    if (this.src[this.pos] !== '\n') this.fail(`unexpected "${this.src[this.pos] ?? ''}" after value`);
    this.pos++;
    this.line++;
  }

  private header(root: TomlTable): TomlTable {
    const isArray = this.src.startsWith('[[', this.pos);
    this.pos += isArray ? 2 : 1;
    const keys = this.keyPath();
    this.skipSpaces();
    if (!this.src.startsWith(isArray ? ']]' : ']', this.pos)) this.fail('unterminated table header');
    this.pos += isArray ? 2 : 1;
    this.endOfLine();
    let t = root;
    for (let i = 0; i < keys.length; i++) {
      const k = keys[i] as string;
      const last = i === keys.length - 1;
      if (last && isArray) {
        const existing = t[k];
        const arr = Array.isArray(existing) ? existing : [];
        if (existing !== undefined && !Array.isArray(existing)) this.fail(`"${k}" is not an array of tables`);
        const fresh: TomlTable = {};
        arr.push(fresh);
        t[k] = arr;
        return fresh;
      }
      t = this.descend(t, k);
    }
    return t;
  }

  /** Into sub-table k of t, creating it; for an array of tables, into its last element. */
  private descend(t: TomlTable, k: string): TomlTable {
    const v = t[k];
    if (v === undefined) {
      const fresh: TomlTable = {};
      t[k] = fresh;
      return fresh;
    }
    if (Array.isArray(v)) {
      const lastEl = v[v.length - 1];
      if (lastEl !== undefined && typeof lastEl === 'object' && !Array.isArray(lastEl)) return lastEl;
      this.fail(`"${k}" is not a table`);
    }
    if (typeof v === 'object') return v;
    return this.fail(`"${k}" is not a table`);
  }

  private keyPath(): string[] {
    const keys: string[] = [];
    for (;;) {
      this.skipSpaces();
      keys.push(this.key());
      this.skipSpaces();
      if (this.src[this.pos] !== '.') return keys;
      this.pos++;
    }
  }

  private key(): string {
    const ch = this.src[this.pos];
    if (ch === '"') return this.basicString();
    if (ch === "'") return this.literalString();
    const start = this.pos;
    while (this.pos < this.src.length && BARE_KEY_CHAR.test(this.src[this.pos] as string)) this.pos++;
    if (this.pos === start) this.fail(`expected a key, found "${ch ?? 'end of file'}"`);
    return this.src.slice(start, this.pos);
  }

  private keyValue(target: TomlTable): void {
    const keys = this.keyPath();
    this.skipSpaces();
    if (this.src[this.pos] !== '=') this.fail(`expected "=" after key "${keys.join('.')}"`);
    this.pos++;
    this.skipSpaces();
    const value = this.value();
    let t = target;
    for (let i = 0; i < keys.length - 1; i++) t = this.descend(t, keys[i] as string);
    t[keys[keys.length - 1] as string] = value;
  }

  private value(): TomlValue {
    const ch = this.src[this.pos];
    if (ch === '"') return this.src.startsWith('"""', this.pos) ? this.multiBasic() : this.basicString();
    if (ch === "'") return this.src.startsWith("'''", this.pos) ? this.multiLiteral() : this.literalString();
    if (ch === '[') return this.array();
    if (ch === '{') return this.inlineTable();
    return this.bare();
  }

  private bare(): TomlValue {
    const m = BARE_VALUE.exec(this.src.slice(this.pos, this.pos + 64));
    if (!m) this.fail(`invalid value starting with "${this.src[this.pos] ?? 'end of file'}"`);
    const text = m[0];
    this.pos += text.length;
    if (text === 'true') return true;
    if (text === 'false') return false;
    const num = text.replace(/_/g, '');
    if (/^[+-]?\d+$/.test(num)) return Number(num);
    if (/^[+-]?(\d+(\.\d+)?([eE][+-]?\d+)?|inf|nan)$/.test(num)) return Number(num);
    if (/^0x[0-9a-fA-F]+$|^0o[0-7]+$|^0b[01]+$/.test(num)) return Number(num);
    if (/^\d{4}-\d{2}-\d{2}|^\d{2}:\d{2}/.test(text)) return text; // date / time / date-time
    return this.fail(`invalid value "${text}"`);
  }

  private basicString(): string {
    this.pos++;
    let out = '';
    for (;;) {
      const ch = this.src[this.pos];
      if (ch === undefined || ch === '\n') this.fail('unterminated string');
      this.pos++;
      if (ch === '"') return out;
      if (ch === '\\') out += this.escape();
      else out += ch;
    }
  }

  private escape(): string {
    const e = this.src[this.pos++];
    switch (e) {
      case 'n':
        return '\n';
      case 't':
        return '\t';
      case 'r':
        return '\r';
      case 'b':
        return '\b';
      case 'f':
        return '\f';
      case 'e':
        return '\u001b';
      case '"':
        return '"';
      case '\\':
        return '\\';
      case 'u':
      case 'U': {
        const len = e === 'u' ? 4 : 8;
        const hex = this.src.slice(this.pos, this.pos + len);
        if (!/^[0-9a-fA-F]+$/.test(hex) || hex.length !== len) this.fail('invalid unicode escape');
        this.pos += len;
        return String.fromCodePoint(parseInt(hex, 16));
      }
      default:
        return this.fail(`invalid escape "\\${e ?? ''}"`);
    }
  }

  private literalString(): string {
    this.pos++;
    const end = this.src.indexOf("'", this.pos);
    const nl = this.src.indexOf('\n', this.pos);
    if (end < 0 || (nl >= 0 && nl < end)) this.fail('unterminated string');
    const s = this.src.slice(this.pos, end);
    this.pos = end + 1;
    return s;
  }

  private multiBasic(): string {
    this.pos += 3;
    if (this.src[this.pos] === '\n') this.nl();
    let out = '';
    for (;;) {
      if (this.pos >= this.src.length) this.fail('unterminated multi-line string');
      if (this.src.startsWith('"""', this.pos)) {
        this.pos += 3;
        // Up to two quotes may directly precede the closing delimiter.
        while (this.src[this.pos] === '"' && out.length >= 0) {
          out += '"';
          this.pos++;
        }
        return out;
      }
      const ch = this.src[this.pos] as string;
      if (ch === '\\') {
        this.pos++;
        if (/[ \t\r\n]/.test(this.src[this.pos] ?? '')) {
          // Line-ending backslash: trim whitespace and newlines up to the next content.
          while (/[ \t\r\n]/.test(this.src[this.pos] ?? '')) {
            if (this.src[this.pos] === '\n') this.line++;
            this.pos++;
          }
        } else out += this.escape();
        continue;
      }
      if (ch === '\n') this.line++;
      out += ch;
      this.pos++;
    }
  }

  private multiLiteral(): string {
    this.pos += 3;
    if (this.src[this.pos] === '\n') this.nl();
    const end = this.src.indexOf("'''", this.pos);
    if (end < 0) this.fail('unterminated multi-line string');
    let stop = end;
    while (this.src[stop + 3] === "'") stop++;
    const s = this.src.slice(this.pos, stop);
    for (const c of s) if (c === '\n') this.line++;
    this.pos = stop + 3;
    return s;
  }

  private nl(): void {
    this.pos++;
    this.line++;
  }

  private array(): TomlValue[] {
    this.pos++;
    const out: TomlValue[] = [];
    for (;;) {
      this.skipBlankAndComments();
      if (this.src[this.pos] === ']') {
        this.pos++;
        return out;
      }
      if (this.pos >= this.src.length) this.fail('unterminated array');
      out.push(this.value());
      this.skipBlankAndComments();
      if (this.src[this.pos] === ',') this.pos++;
      else if (this.src[this.pos] !== ']') this.fail('expected "," or "]" in array');
    }
  }

  private inlineTable(): TomlTable {
    this.pos++;
    const t: TomlTable = {};
    // Newlines inside inline tables are not TOML 1.0, but tolerating them costs nothing.
    this.skipBlankAndComments();
    if (this.src[this.pos] === '}') {
      this.pos++;
      return t;
    }
    for (;;) {
      this.skipBlankAndComments();
      this.keyValue(t);
      this.skipBlankAndComments();
      const ch = this.src[this.pos];
      this.pos++;
      if (ch === '}') return t;
      if (ch !== ',') this.fail('expected "," or "}" in inline table');
      this.skipBlankAndComments();
      if (this.src[this.pos] === '}') {
        this.pos++;
        return t;
      }
    }
  }
}

/** Parse TOML text; throws TomlError (with a line number) on malformed input. */
export function parseToml(text: string): TomlTable {
  return new Parser(text).parse();
}

export function tomlTables(v: TomlValue | undefined): TomlTable[] {
  if (!Array.isArray(v)) return [];
  return v.filter((e): e is TomlTable => typeof e === 'object' && e !== null && !Array.isArray(e));
}

export function tomlString(v: TomlValue | undefined): string | undefined {
  return typeof v === 'string' && v.trim() !== '' ? v.trim() : undefined;
}

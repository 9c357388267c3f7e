/**
 * A parser for Debian control-file syntax (deb822 / RFC 822 style) as dpkg writes its status
 * database: stanzas of "Field: value" lines, continuation lines starting with a space or tab,
 * stanzas separated by one or more blank lines. Tolerates CRLF and a missing final newline.
 */

export interface Stanza {
  /** Field names lower-cased (deb822 field names are case-insensitive). */
  fields: Map<string, string>;
  /** 1-based line number of the stanza's first line. */
  line: number;
  /** Lines that are neither a field nor a continuation: the stanza cannot be trusted. */
  badLines: number[];
}

function isBlank(line: string): boolean {
  for (let i = 0; i < line.length; i++) {
    const c = line.charCodeAt(i);
    if (c !== 0x20 && c !== 0x09) return false;
  }
  return true;
}

class StanzaBuilder {
  private current: Stanza | undefined;
  private lastField: string | undefined;
  readonly done: Stanza[] = [];

  addLine(line: string, lineNo: number): void {
    if (isBlank(line)) {
      this.flush();
      return;
    }
    if (!this.current) this.current = { fields: new Map<string, string>(), line: lineNo, badLines: [] };
    const stanza: Stanza = this.current;
    const first = line.charCodeAt(0);
    if (first === 0x20 || first === 0x09) {
      // Continuation: belongs to the previous field ("." alone stands for an empty line).
      if (this.lastField === undefined) stanza.badLines.push(lineNo);
      else {
        const rest = line.slice(1);
        stanza.fields.set(this.lastField, `${stanza.fields.get(this.lastField) ?? ''}\n${rest === '.' ? '' : rest}`);
      }
      return;
    }
    if (first === 0x23) return; // "#" comment lines are allowed in deb822 sources
    const colon = line.indexOf(':');
    const name = colon > 0 ? line.slice(0, colon) : '';
    if (name === '' || name.includes(' ') || name.includes('\t')) {
      stanza.badLines.push(lineNo);
      this.lastField = undefined;
      return;
    }
    const key = name.toLowerCase();
    this.lastField = key;
    if (!stanza.fields.has(key)) stanza.fields.set(key, line.slice(colon + 1).trim());
  }

  flush(): void {
    if (this.current) this.done.push(this.current);
    this.current = undefined;
    this.lastField = undefined;
  }
}

/** All stanzas of a control file, in order. Never throws. */
export function parseStanzas(text: string): Stanza[] {
  const b = new StanzaBuilder();
  let start = 0;
  let lineNo = 1;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    let line = text.slice(start, end);
    if (line.endsWith('\r')) line = line.slice(0, -1);
    b.addLine(line, lineNo);
    start = end + 1;
    lineNo++;
  }
  b.flush();
  return b.done;
}

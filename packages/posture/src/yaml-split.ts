/**
 * Splitting one huge YAML `List` document (`kubectl get -A -o yaml`) into its items by
 * indentation, without parsing it: the yaml library builds a node tree per document, and for
 * a 50 MB document that tree takes gigabytes. Each item is then parsed on its own, so memory
 * follows one item. Only the plain shape kubectl writes is split — a block mapping at column
 * 0 with an `items:` block sequence — anything else (flow style, directives, several
 * documents) is left to the whole-document parser.
 */

/** One item of the List: its text (with its original indentation) and where it starts. */
export interface YamlItemChunk {
  /** Offset of the item's first line in the text. */
  start: number;
  end: number;
  /** Zero-based line of `start`. */
  line: number;
}

export interface YamlListSplit {
  /** The document without its items (`items:` left empty): parsed to check it is a List. */
  header: string;
  items: YamlItemChunk[];
}

/** A top-level key line: `key:` then a space, a comment or the end of the line. */
const TOP_KEY = /^([A-Za-z_][\w.-]*)[ \t]*:(?:[ \t]|$)/;
/** A sequence entry at the items' indentation. */
const ENTRY = /^( *)-(?:[ \t]|$)/;

/**
 * Something that may be an alias (`*name` after a space, `-`, `:`, `[`, `{` or `,`): an item
 * could refer to an anchor of another, so such a text is parsed whole. kubectl never writes
 * aliases; a false alarm (a plain scalar containing ` *x`) only costs the whole-document parse.
 */
const ALIAS = /[\s\-:[{,]\*[^\s,[\]{}]/;

/** The items of a List document, or undefined when the text is not of the plain shape. */
export function splitYamlList(text: string): YamlListSplit | undefined {
  if (ALIAS.test(text)) return undefined;
  const header: string[] = [];
  const items: YamlItemChunk[] = [];
  let inItems = false;
  let sawItems = false;
  let indent = -1;
  let current: YamlItemChunk | undefined;
  let line = 0;
  let seenContent = false;
  for (let pos = 0; pos < text.length; line++) {
    const nl = text.indexOf('\n', pos);
    const end = nl < 0 ? text.length : nl + 1;
    const raw = text.slice(pos, nl < 0 ? text.length : nl).replace(/\r$/, '');
    const blank = raw.trim() === '' || raw.trimStart().startsWith('#');
    if (inItems && !blank) {
      const lead = raw.length - raw.trimStart().length;
      const entry = ENTRY.exec(raw);
      if (indent < 0) {
        if (!entry) return undefined; // `items:` followed by something other than a block sequence
        indent = entry[1]?.length ?? 0;
      }
      if (entry && lead === indent) {
        if (current) current.end = pos;
        current = { start: pos, end, line };
        items.push(current);
      } else if (lead > indent) {
        // a line of the current item
      } else if (lead === 0 && TOP_KEY.test(raw)) {
        inItems = false; // the next top-level key
        if (current) current.end = pos;
        current = undefined;
      } else return undefined; // not the shape we split
    }
    if (!inItems) {
      if (!blank) {
        if (raw.startsWith('---') && !seenContent && raw.trim() === '---') {
          // a leading document marker
        } else if (raw.startsWith('---') || raw.startsWith('...') || raw.startsWith('%')) return undefined;
        else if (raw[0] !== ' ' && raw[0] !== '\t') {
          const key = TOP_KEY.exec(raw);
          if (!key) return undefined;
          if (key[1] === 'items') {
            if (sawItems || raw.slice(key[0].length).trim().replace(/^#.*/, '') !== '') return undefined;
            sawItems = true;
            inItems = true;
          }
        }
        seenContent = true;
      }
      header.push(text.slice(pos, end));
    }
    pos = end;
  }
  if (current) current.end = text.length;
  if (!sawItems || items.length === 0) return undefined;
  return { header: header.join(''), items };
}

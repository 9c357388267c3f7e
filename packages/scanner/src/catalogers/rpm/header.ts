/**
 * Reader for RPM headers as the rpmdb stores them (one per installed package): big-endian
 * index count and data size, `count` 16-byte index entries {tag, type, offset, count}, then the
 * data store. Some stores prefix the 8-byte header magic, some do not. Every size and offset is
 * checked, so a corrupt blob ends in an error naming what is wrong, never a bad read.
 */

export const TAG = {
  NAME: 1000,
  VERSION: 1001,
  RELEASE: 1002,
  EPOCH: 1003,
  VENDOR: 1011,
  LICENSE: 1014,
  ARCH: 1022,
  SOURCERPM: 1044,
  MODULARITYLABEL: 5096,
} as const;

const WANTED_TAGS: ReadonlySet<number> = new Set(Object.values(TAG));

const TYPE_INT32 = 4;
const TYPE_STRING = 6;
const TYPE_STRING_ARRAY = 8;
const TYPE_I18NSTRING = 9;

const HEADER_MAGIC = 0x8eade801;
/** rpm's own limits (HEADER_TAGS_MAX, HEADER_DATA_MAX): anything above is corruption. */
const MAX_INDEX_ENTRIES = 0xffff;
const MAX_DATA_SIZE = 0x0fffffff;

export class RpmHeaderError extends Error {
  override readonly name = 'RpmHeaderError';
}

/** The tags the cataloger reads: strings and the first value of INT32 tags. */
export type RpmTags = Map<number, string | number>;

function readCString(buf: Buffer, start: number, end: number, tag: number): string {
  const nul = buf.indexOf(0, start);
  if (nul < 0 || nul >= end) throw new RpmHeaderError(`tag ${tag}: string runs past the data store`);
  return buf.toString('utf8', start, nul);
}

interface Layout {
  entries: number;
  dataStart: number;
  dataEnd: number;
}

function layoutOf(blob: Buffer): Layout {
  let off = 0;
  if (blob.length >= 8 && blob.readUInt32BE(0) === HEADER_MAGIC) off = 8;
  if (blob.length < off + 8) throw new RpmHeaderError(`header is only ${blob.length} bytes`);
  const entries = blob.readUInt32BE(off);
  const dataSize = blob.readUInt32BE(off + 4);
  if (entries < 1 || entries > MAX_INDEX_ENTRIES) throw new RpmHeaderError(`absurd index entry count ${entries}`);
  if (dataSize > MAX_DATA_SIZE) throw new RpmHeaderError(`absurd data size ${dataSize}`);
  const dataStart = off + 8 + entries * 16;
  const dataEnd = dataStart + dataSize;
  if (dataEnd > blob.length) {
    throw new RpmHeaderError(
      `header claims ${dataEnd} bytes (${entries} entries, ${dataSize} data) but has ${blob.length}`,
    );
  }
  return { entries, dataStart, dataEnd };
}

function readValue(
  blob: Buffer,
  l: Layout,
  tag: number,
  type: number,
  offset: number,
  count: number,
): string | number | undefined {
  if (offset < 0 || offset >= l.dataEnd - l.dataStart)
    throw new RpmHeaderError(`tag ${tag}: offset ${offset} outside the data store`);
  const at = l.dataStart + offset;
  switch (type) {
    case TYPE_STRING:
    case TYPE_STRING_ARRAY: // first element
    case TYPE_I18NSTRING: // first (default) language
      return readCString(blob, at, l.dataEnd, tag);
    case TYPE_INT32:
      if (count < 1 || at + 4 > l.dataEnd) throw new RpmHeaderError(`tag ${tag}: INT32 runs past the data store`);
      return blob.readUInt32BE(at);
    default:
      return undefined; // a type this reader does not need for its tags
  }
}

/** The wanted tags of one header blob; throws RpmHeaderError when the blob is corrupt. */
export function parseRpmHeader(blob: Buffer): RpmTags {
  const l = layoutOf(blob);
  const tags: RpmTags = new Map();
  const indexStart = l.dataStart - l.entries * 16;
  for (let i = 0; i < l.entries; i++) {
    const e = indexStart + i * 16;
    const tag = blob.readUInt32BE(e);
    if (!WANTED_TAGS.has(tag)) continue;
    const value = readValue(blob, l, tag, blob.readUInt32BE(e + 4), blob.readInt32BE(e + 8), blob.readUInt32BE(e + 12));
    if (value !== undefined && !tags.has(tag)) tags.set(tag, value);
  }
  return tags;
}

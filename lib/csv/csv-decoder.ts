import { isAscii, isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';
import { fatal } from './roster-findings';

/**
 * Turns the raw bytes of a district's file into UTF-8 bytes for the CSV parser, chunk by chunk.
 *
 * - The first bytes decide: UTF-8 BOM, UTF-16 LE/BE BOM (or UTF-16 without BOM, recognised by its
 *   NUL pattern), or refusal of workbooks, archives, PDFs and other binary data.
 * - Otherwise the file is taken as UTF-8 and validated as it streams. When invalid UTF-8 appears
 *   and every byte before it was plain ASCII, the file is Windows-1252 (Excel's "CSV (Comma
 *   delimited)" on Windows): the two agree on ASCII, so everything already parsed is exactly what a
 *   Windows-1252 reading would have produced, and decoding switches to Windows-1252 from that chunk
 *   on — no restart, no buffering of the whole file. When invalid UTF-8 appears after valid
 *   non-ASCII UTF-8, the file mixes encodings; that is fatal (MIXED_ENCODING), because either
 *   reading would garble some names. In short: the file's first non-ASCII character decides, so the
 *   outcome does not depend on how the stream happens to be chunked.
 * - Mixed encodings are not thrown from here: the bad bytes go on as U+FFFD and `mixedEncoding` is
 *   set, so the reader can name the exact row whose values hold them (the decoder sees chunks, not
 *   rows, and the parser may still hold back the end of the previous line).
 */
export type DetectedEncoding = 'utf-8' | 'utf-8-bom' | 'utf-16le' | 'utf-16be' | 'windows-1252';

/** Bytes looked at before deciding what the file is. */
const SNIFF_BYTES = 4096;

type IconvDecoder = ReturnType<typeof iconv.getDecoder>;

export class CsvDecoder {
  encoding: DetectedEncoding | null = null;
  /** True once the file turned out to be Windows-1252; the reader warns once. */
  fellBackTo1252 = false;
  /** Bytes received so far, including the sniffed head. */
  bytesSeen = 0;
  /**
   * Invalid UTF-8 after valid accented UTF-8, or half of a UTF-16 surrogate pair: from here on the
   * output holds U+FFFD for bad bytes.
   */
  mixedEncoding = false;
  /** The file ended inside a multi-byte UTF-8 character, or inside a UTF-16 one: it was cut off. */
  endedMidCharacter = false;

  private head: Buffer[] = [];
  private headLength = 0;
  private carry: Buffer | null = null;
  private sawNonAscii = false;
  private legacy: IconvDecoder | null = null;
  /**
   * A first half of a surrogate pair that ended a UTF-16 chunk: iconv-lite's big-endian decoder
   * hands it out alone, and its second half starts the next chunk.
   */
  private pendingHigh = '';
  /** Bytes handed to the UTF-16 decoder: an odd count at the end is half a character. */
  private utf16Bytes = 0;

  constructor(private readonly fileName: string) {}

  write(chunk: Buffer): Buffer {
    this.bytesSeen += chunk.length;
    if (this.encoding === null) {
      this.head.push(chunk);
      this.headLength += chunk.length;
      if (this.headLength < SNIFF_BYTES) return EMPTY;
      return withoutInvisibles(this.decodeHead());
    }
    return withoutInvisibles(this.decode(chunk));
  }

  end(): Buffer {
    return withoutInvisibles(this.finish());
  }

  private finish(): Buffer {
    const out: Buffer[] = [];
    if (this.encoding === null) out.push(this.decodeHead());
    if (this.legacy) {
      const rest = this.pendingHigh + (this.legacy.end() ?? '');
      if (this.isUtf16() && (this.utf16Bytes % 2 === 1 || (rest && LONE_SURROGATE.test(rest)))) {
        // The last character of a UTF-16 file is cut: an odd byte or a first half of a pair.
        this.endedMidCharacter = true;
      } else if (rest) out.push(Buffer.from(rest, 'utf8'));
    } else if (this.carry) {
      // A multi-byte sequence cut off by the end of the file. In a file already known to be UTF-8
      // that is a cut-off upload, which the reader reports as such; the partial character is dropped.
      if (this.sawNonAscii && isUtf8Prefix(this.carry)) {
        this.endedMidCharacter = true;
        this.carry = null;
      } else out.push(this.decode(EMPTY, true));
    }
    return out.length === 1 ? out[0] : Buffer.concat(out);
  }

  private decodeHead(): Buffer {
    const head = this.head.length === 1 ? this.head[0] : Buffer.concat(this.head, this.headLength);
    this.head = [];
    this.encoding = this.sniff(head);
    let body = head;
    if (this.encoding === 'utf-8-bom') body = head.subarray(3);
    else if (this.encoding === 'utf-16le' || this.encoding === 'utf-16be') {
      // iconv-lite's utf16 decoders strip the BOM themselves.
      this.legacy = iconv.getDecoder(this.encoding === 'utf-16le' ? 'utf-16le' : 'utf-16be');
    }
    return this.decode(body);
  }

  private decode(chunk: Buffer, atEnd = false): Buffer {
    if (this.legacy) {
      let text = this.pendingHigh + this.legacy.write(chunk);
      this.pendingHigh = '';
      const last = text.charCodeAt(text.length - 1);
      if (this.isUtf16() && last >= 0xd800 && last <= 0xdbff) {
        this.pendingHigh = text.slice(-1);
        text = text.slice(0, -1);
      }
      if (this.isUtf16()) {
        this.utf16Bytes += chunk.length;
        // A lone half of a surrogate pair turns into U+FFFD; the reader names the row holding it.
        if (LONE_SURROGATE.test(text)) this.mixedEncoding = true;
      }
      return Buffer.from(text, 'utf8');
    }
    let data = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = null;
    const tail = atEnd ? 0 : incompleteUtf8Tail(data);
    if (tail > 0) {
      this.carry = Buffer.from(data.subarray(data.length - tail));
      data = data.subarray(0, data.length - tail);
    }
    if (isUtf8(data)) {
      if (!this.sawNonAscii && !isAscii(data)) this.sawNonAscii = true;
      return data;
    }
    if (this.mixedEncoding || this.sawNonAscii || firstNonAsciiIsUtf8(data)) {
      this.mixedEncoding = true;
      return Buffer.from(data.toString('utf8'), 'utf8');
    }
    this.encoding = 'windows-1252';
    this.fellBackTo1252 = true;
    this.legacy = iconv.getDecoder('windows-1252');
    const pending = this.carry ? Buffer.concat([data, this.carry]) : data;
    this.carry = null;
    return Buffer.from(this.legacy.write(pending), 'utf8');
  }

  private isUtf16(): boolean {
    return this.encoding === 'utf-16le' || this.encoding === 'utf-16be';
  }

  private sniff(head: Buffer): DetectedEncoding {
    if (head.length >= 3 && head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf) return 'utf-8-bom';
    if (head.length >= 2 && head[0] === 0xff && head[1] === 0xfe) return 'utf-16le';
    if (head.length >= 2 && head[0] === 0xfe && head[1] === 0xff) return 'utf-16be';
    this.refuseBinary(head);
    // Only the first SNIFF_BYTES decide, however large the first chunk: the result must not depend
    // on how the file is chunked (later NULs are dropped as invisible).
    const sample = head.subarray(0, SNIFF_BYTES);
    if (sample.includes(0)) {
      const utf16 = utf16WithoutBom(sample);
      if (utf16) return utf16;
      throw fatal(
        'UNSUPPORTED_FILE',
        `'${this.fileName}' contains binary data, not text.`,
        {},
        "Export the roster as CSV text: in a spreadsheet program choose Save As > 'CSV UTF-8 (Comma delimited) (*.csv)', and upload that file.",
      );
    }
    return 'utf-8';
  }

  private refuseBinary(head: Buffer): void {
    const saveAsCsv = "Save it as 'CSV UTF-8 (Comma delimited)' and upload again.";
    const latin = head.toString('latin1', 0, Math.min(head.length, SNIFF_BYTES));
    if (head[0] === 0x50 && head[1] === 0x4b && (head[2] === 0x03 || head[2] === 0x05)) {
      if (latin.includes('xl/') || latin.includes('[Content_Types].xml')) {
        throw fatal(
          'UNSUPPORTED_FILE',
          `'${this.fileName}' looks like an Excel workbook (.xlsx).`,
          {},
          saveAsCsv,
        );
      }
      throw fatal(
        'UNSUPPORTED_FILE',
        `'${this.fileName}' is a zip archive, not a CSV file.`,
        {},
        'Unzip it and upload the CSV file inside (one roster file, not the archive).',
      );
    }
    if (head[0] === 0xd0 && head[1] === 0xcf && head[2] === 0x11 && head[3] === 0xe0) {
      throw fatal(
        'UNSUPPORTED_FILE',
        `'${this.fileName}' looks like an Excel 97-2003 workbook (.xls).`,
        {},
        saveAsCsv,
      );
    }
    if (latin.startsWith('%PDF')) {
      throw fatal(
        'UNSUPPORTED_FILE',
        `'${this.fileName}' is a PDF document, not a CSV file.`,
        {},
        'Export the roster from your source system as CSV and upload that file.',
      );
    }
    if (head[0] === 0x1f && head[1] === 0x8b) {
      throw fatal(
        'UNSUPPORTED_FILE',
        `'${this.fileName}' is gzip-compressed.`,
        {},
        'Decompress it and upload the CSV file inside.',
      );
    }
  }
}

const EMPTY = Buffer.alloc(0);

/** In unicode mode a character class matches only an unpaired surrogate, never half of a pair. */
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/**
 * Characters that no spreadsheet or SIS means and no one can see, dropped wherever they are:
 * - NUL: Postgres text cannot store it, and one stray NUL in a custom column would fail the run
 *   when its JSON is stored (the sniff has already refused a head with NULs as binary);
 * - zero-width space (U+200B) and word joiner (U+2060), which come along when values are copied
 *   from web pages: `007` followed by one would be another ID, a new user, and the real 007 archived.
 * (Zero-width joiners are kept: some scripts and emoji need them.)
 */
const ZERO_WIDTH_SPACE = Buffer.from('\u200B', 'utf8');
const WORD_JOINER = Buffer.from('\u2060', 'utf8');

function withoutInvisibles(buf: Buffer): Buffer {
  if (buf.indexOf(0) === -1 && buf.indexOf(ZERO_WIDTH_SPACE) === -1 && buf.indexOf(WORD_JOINER) === -1)
    return buf;
  const kept: Buffer[] = [];
  let from = 0;
  for (let i = 0; i < buf.length;) {
    const width = invisibleAt(buf, i);
    if (width === 0) {
      i++;
      continue;
    }
    // A run of invisibles (megabytes of NUL padding) adds nothing between its characters.
    if (i > from) kept.push(buf.subarray(from, i));
    i += width;
    from = i;
  }
  kept.push(buf.subarray(from));
  return Buffer.concat(kept);
}

/** Length of the invisible character starting at `i`, 0 when there is none. */
function invisibleAt(buf: Buffer, i: number): number {
  const byte = buf[i];
  if (byte === 0) return 1;
  if (byte !== 0xe2 || i + 2 >= buf.length) return 0;
  const [second, third] = [buf[i + 1], buf[i + 2]];
  const zeroWidthSpace = second === ZERO_WIDTH_SPACE[1] && third === ZERO_WIDTH_SPACE[2];
  const wordJoiner = second === WORD_JOINER[1] && third === WORD_JOINER[2];
  return zeroWidthSpace || wordJoiner ? 3 : 0;
}

/** Length of a UTF-8 sequence cut off at the end of the chunk (0 to 3 bytes), to carry to the next one. */
function incompleteUtf8Tail(buf: Buffer): number {
  const end = buf.length;
  for (let back = 1; back <= 3 && back <= end; back++) {
    const byte = buf[end - back];
    if ((byte & 0xc0) === 0x80) continue; // continuation byte: keep looking for the lead
    if (byte < 0x80) return 0;
    const needed = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return back < needed ? back : 0;
  }
  return 0;
}

/** Whether the bytes are the start of a well-formed UTF-8 sequence (a lead byte and its continuations). */
function isUtf8Prefix(bytes: Buffer): boolean {
  const lead = bytes[0];
  const length = lead >= 0xf0 && lead < 0xf8 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc2 ? 2 : 0;
  if (length === 0 || bytes.length >= length) return false;
  for (let i = 1; i < bytes.length; i++) if ((bytes[i] & 0xc0) !== 0x80) return false;
  return true;
}

/** Whether the first non-ASCII byte of the chunk starts a well-formed UTF-8 sequence. */
function firstNonAsciiIsUtf8(buf: Buffer): boolean {
  for (let i = 0; i < buf.length; i++) {
    const byte = buf[i];
    if (byte < 0x80) continue;
    const length = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : byte >= 0xc0 ? 2 : 1;
    return length > 1 && i + length <= buf.length && isUtf8(buf.subarray(i, i + length));
  }
  return false;
}

/** UTF-16 without a BOM: text made of ASCII has a NUL in every other byte. */
function utf16WithoutBom(head: Buffer): DetectedEncoding | null {
  const pairs = Math.floor(head.length / 2);
  if (pairs < 2) return null;
  let evenZero = 0;
  let oddZero = 0;
  for (let i = 0; i < pairs * 2; i += 2) {
    if (head[i] === 0) evenZero++;
    if (head[i + 1] === 0) oddZero++;
  }
  if (oddZero > pairs * 0.6 && evenZero === 0) return 'utf-16le';
  if (evenZero > pairs * 0.6 && oddZero === 0) return 'utf-16be';
  return null;
}

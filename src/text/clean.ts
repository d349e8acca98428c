// Turning raw text into clean sentences for PV mining and attack data: strip
// markup, repair entities, collapse whitespace, split paragraphs into
// sentences, and drop lines that are headings or of an unusable length.

export interface CleanOptions {
  /** Drop sentences with fewer whitespace words. Default 3. */
  minWords?: number;
  /** Drop sentences with more whitespace words. Default 64 (PV mining truncates at 128 tokens). */
  maxWords?: number;
  /** Drop sentences longer than this many characters. Default 512. */
  maxChars?: number;
  /** Remove HTML/XML tags and decode entities. Default true. */
  stripMarkup?: boolean;
}

const NAMED_ENTITIES: Record<string, string> = {
  amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', ndash: '–', mdash: '—', hellip: '…',
  lsquo: '‘', rsquo: '’', ldquo: '“', rdquo: '”',
};

function codePointOrNull(n: number): string | null {
  return Number.isInteger(n) && n > 0 && n <= 0x10ffff && !(n >= 0xd800 && n <= 0xdfff) ? String.fromCodePoint(n) : null;
}

export function decodeEntities(s: string): string {
  return s
    .replace(/&#x([0-9a-f]{1,6});/gi, (m, h: string) => codePointOrNull(parseInt(h, 16)) ?? m)
    .replace(/&#(\d{1,7});/g, (m, d: string) => codePointOrNull(parseInt(d, 10)) ?? m)
    // AG News lost the '&' of numeric entities ("company#39;s", " #36;10 million").
    .replace(/(^|[^&])#(\d{2,4});/g, (m, pre: string, d: string) => {
      const c = codePointOrNull(parseInt(d, 10));
      return c === null ? m : pre + c;
    })
    .replace(/&([a-z]+);/gi, (m, name: string) => NAMED_ENTITIES[name.toLowerCase()] ?? m);
}

const TAG_RE = /<\/?[A-Za-z][A-Za-z0-9:-]*(?:\s[^<>]*)?\/?>|<!--[\s\S]*?-->/g;

export function stripTags(s: string): string {
  return s.replace(TAG_RE, ' ');
}

export function collapseWhitespace(s: string): string {
  return s.replace(/\s+/gu, ' ').trim();
}

/** WikiText headings (" = Title = ", " = = Section = = ") and Markdown headings. */
export function isHeading(line: string): boolean {
  const t = line.trim();
  return /^(=\s)+.*(\s=)+$/.test(t) || /^=+[^=]+=+$/.test(t) || /^#{1,6}\s/.test(t);
}

/** Markup removal and whitespace normalisation, without any length filtering. */
export function cleanText(s: string, stripMarkup = true): string {
  let t = s;
  if (stripMarkup) t = stripTags(decodeEntities(stripTags(t)));
  return collapseWhitespace(t);
}

/** The cleaned sentence, or null when it should be dropped. */
export function cleanSentence(s: string, o: CleanOptions = {}): string | null {
  if (isHeading(s)) return null;
  const t = cleanText(s, o.stripMarkup ?? true);
  if (t.length === 0 || t.length > (o.maxChars ?? 512)) return null;
  const n = t.split(' ').length;
  if (n < (o.minWords ?? 3) || n > (o.maxWords ?? 64)) return null;
  return t;
}

/** Clean many sentences, optionally dropping exact duplicates (first occurrence kept). */
export function cleanSentences(sentences: Iterable<string>, o: CleanOptions & { dedupe?: boolean } = {}): string[] {
  const out: string[] = [];
  const seen = new Set<string>();
  const dedupe = o.dedupe ?? true;
  for (const s of sentences) {
    const c = cleanSentence(s, o);
    if (c === null) continue;
    if (dedupe) {
      if (seen.has(c)) continue;
      seen.add(c);
    }
    out.push(c);
  }
  return out;
}

/**
 * Undo WikiText's tokenisation: "1 @,@ 000" -> "1,000", "non @-@ white" ->
 * "non-white", "city 's" -> "city's", "word ," -> "word,". Quotes are left
 * spaced because open and close quotes look the same.
 */
export function detokenizeWikitext(s: string): string {
  return s
    .replace(/ @([-,.])@ /g, '$1')
    .replace(/ (n't|'s|'re|'ve|'ll|'d|'m)(?=\s|$)/gi, '$1')
    .replace(/ ([,.;:!?%)\]}])/g, '$1')
    .replace(/([(\[{]) /g, '$1');
}

const ABBREVIATIONS = new Set([
  'mr', 'mrs', 'ms', 'dr', 'st', 'jr', 'sr', 'prof', 'gen', 'col', 'lt', 'sgt', 'capt', 'gov', 'sen', 'rep', 'rev',
  'vs', 'etc', 'no', 'nos', 'vol', 'inc', 'ltd', 'co', 'corp', 'fig', 'approx', 'est', 'mt', 'ft', 'op', 'cf', 'al',
  'jan', 'feb', 'mar', 'apr', 'jun', 'jul', 'aug', 'sep', 'sept', 'oct', 'nov', 'dec', 'u.s', 'u.k', 'e.g', 'i.e',
]);

/**
 * Split a paragraph into sentences at . ! ? followed by whitespace and an
 * upper-case letter, digit or opening quote/bracket, except after common
 * abbreviations and single-letter initials ("H. americanus").
 */
export function splitSentences(paragraph: string): string[] {
  const text = collapseWhitespace(paragraph);
  const out: string[] = [];
  const re = /([.!?]["')\]]*)\s+(?=["'(\[]?[\p{Lu}\d])/gu;
  let start = 0;
  for (let m = re.exec(text); m !== null; m = re.exec(text)) {
    const end = m.index + m[1]!.length;
    if (m[1]!.startsWith('.')) {
      const prevWord = text.slice(start, m.index).split(' ').pop() ?? '';
      const bare = prevWord.replace(/^["'(\[]+/, '').toLowerCase();
      if (ABBREVIATIONS.has(bare) || /^\p{L}$/u.test(bare)) continue;
    }
    out.push(text.slice(start, end));
    start = m.index + m[0].length;
  }
  if (start < text.length) out.push(text.slice(start));
  return out.filter((s) => s.length > 0);
}

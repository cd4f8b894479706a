/**
 * Edit distance and "did you mean" lookups, used for misspelled headers, roles and school names.
 * Optimal string alignment distance: like Levenshtein, but a swap of two neighbouring letters
 * ("Emial") costs 1, since that is the commonest typo.
 */
export function editDistance(a: string, b: string, max = Infinity): number {
  if (a === b) return 0;
  if (Math.abs(a.length - b.length) > max) return max + 1;
  const rows = a.length + 1;
  const cols = b.length + 1;
  // Only cells within `band` of the diagonal can lead to a distance within `max`, so a bounded
  // lookup costs O(max * length) rather than O(length^2); `over` stands for "more than max".
  const band = Number.isFinite(max) ? max : Math.max(a.length, b.length);
  const over = band + 1;
  // Three rolling rows are enough for the transposition rule.
  let prev2 = new Array<number>(cols).fill(over);
  let prev = Array.from({ length: cols }, (_, j) => (j <= band ? j : over));
  let cur = new Array<number>(cols).fill(over);
  for (let i = 1; i < rows; i++) {
    const from = Math.max(1, i - band);
    const to = Math.min(cols - 1, i + band);
    cur[0] = i <= band ? i : over;
    cur[from - 1] = from === 1 ? cur[0] : over;
    let rowMin = from === 1 ? cur[0] : over;
    for (let j = from; j <= to; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      let d = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost, over);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, prev2[j - 2] + 1);
      cur[j] = d;
      if (d < rowMin) rowMin = d;
    }
    // The next row reads one cell right of this row's band.
    if (to + 1 < cols) cur[to + 1] = over;
    if (rowMin > max) return max + 1;
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  const d = prev[cols - 1];
  return d > max ? max + 1 : d;
}

/** How many edits still count as a typo of a word of this length. */
export function typoBudget(length: number): number {
  if (length <= 3) return 1;
  if (length <= 8) return 2;
  return 3;
}

/**
 * The candidate closest to `value` after both go through `normalize`, if it is within the typo
 * budget, or if one contains the other from a word start ("Minty Middle" / "Minty Middle School").
 */
export function closestMatch(
  value: string,
  candidates: readonly string[],
  normalize: (s: string) => string,
): string | null {
  const target = normalize(value);
  if (target.length === 0) return null;
  let best: string | null = null;
  let bestScore = Infinity;
  for (const candidate of candidates) {
    const norm = normalize(candidate);
    if (norm === target) return candidate;
    let score = editDistance(target, norm, typoBudget(Math.max(target.length, norm.length)));
    if (score > typoBudget(Math.max(target.length, norm.length))) {
      // One name inside the other from a word start: "School" left off, "Elem" for "Elementary".
      const [short, long] = target.length < norm.length ? [target, norm] : [norm, target];
      if (short.length >= 4 && ` ${long}`.includes(` ${short}`)) score = 10 + (long.length - short.length);
      else continue;
    }
    if (score < bestScore) {
      bestScore = score;
      best = candidate;
    }
  }
  return best;
}

/**
 * Characters compared when looking for the nearest name at any distance: a suggestion never needs
 * more, and it bounds each comparison (the distance table) at 64 x 64 cells whatever the values.
 */
export const COMPARED_CHARS = 64;

const compared = (text: string): string =>
  text.length > COMPARED_CHARS ? text.slice(0, COMPARED_CHARS) : text;

/** Words that name a kind of school, not a school: sharing them says nothing about which one. */
const GENERIC_WORDS = new Set([
  'school',
  'schools',
  'high',
  'hs',
  'middle',
  'ms',
  'elementary',
  'elem',
  'es',
  'primary',
  'secondary',
  'junior',
  'senior',
  'jr',
  'sr',
  'academy',
  'center',
  'centre',
  'campus',
  'the',
  'of',
  'and',
  'k-8',
  'k8',
]);

const distinctiveWords = (normalized: string): string[] =>
  normalized.split(/[\s,.;:/()-]+/).filter((w) => w.length >= 3 && !GENERIC_WORDS.has(w));

/**
 * When no candidate is within typo distance: the one sharing the most distinctive words with
 * `value` ("Lincoln HS" and "Lincoln High School" share "lincoln"), closest by edit distance on a
 * tie; null when none shares any.
 */
export function sharedWordMatch(
  value: string,
  candidates: readonly string[],
  normalize: (s: string) => string,
): string | null {
  const target = compared(normalize(value));
  const words = new Set(distinctiveWords(target));
  if (words.size === 0) return null;
  let best: string | null = null;
  let bestShared = 0;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const norm = compared(normalize(candidate));
    const shared = distinctiveWords(norm).filter((w) => words.has(w)).length;
    if (shared === 0 || shared < bestShared) continue;
    const distance = editDistance(target, norm);
    if (shared > bestShared || distance < bestDistance) {
      best = candidate;
      bestShared = shared;
      bestDistance = distance;
    }
  }
  return best;
}

/** The candidate at the smallest edit distance, however far: to name the nearest when nothing is near. */
export function nearest(
  value: string,
  candidates: readonly string[],
  normalize: (s: string) => string,
): string | null {
  const target = compared(normalize(value));
  let best: string | null = null;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(target, compared(normalize(candidate)));
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best;
}

import { SCHOOLS } from './sync-harness';

/** One person of a generated roster, matched by Internal ID `T<n>`. */
export interface Person {
  n: number;
  firstName: string;
}

/** `count` people T0001..: the first is the coach everyone else names. */
export function people(count: number): Person[] {
  return Array.from({ length: count }, (_, i) => ({ n: i + 1, firstName: `First${i + 1}` }));
}

export const internalId = (n: number): string => `T${String(n).padStart(4, '0')}`;

/** A roster file in the product's template format, as a district would export it. */
export function rosterText(rows: readonly Person[]): string {
  const lines = ['First Name,Last Name,Email,Internal ID,School,Role,Coach Email,Phone,Department'];
  for (const p of rows) {
    const coach = p.n === 1;
    lines.push(
      [
        p.firstName,
        `Last${p.n}`,
        coach ? 'coach.one@district.org' : `person${p.n}@district.org`,
        internalId(p.n),
        SCHOOLS[p.n % SCHOOLS.length],
        coach ? 'Coach' : 'Teacher',
        coach ? '' : 'coach.one@district.org',
        `555-${String(p.n).padStart(4, '0')}`,
        'Math',
      ].join(','),
    );
  }
  return lines.join('\n') + '\n';
}

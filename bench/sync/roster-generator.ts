import { once } from 'node:events';
import fs from 'node:fs';

/**
 * Writes a realistic district roster to disk as a stream (memory stays flat at any size): the
 * template's columns plus a custom one, 50 schools, staff and students with plausible names,
 * coaches for teachers, district-wide admins without a school, and a sprinkle of typical errors
 * (a misspelled school, an invalid email), about 0.15% of rows.
 */
const FIRST = [
  'Maria',
  'James',
  'Aisha',
  'Wei',
  'Olivia',
  'Mateo',
  'Priya',
  'Noah',
  'Fatima',
  'Liam',
  'Sofia',
  'Ethan',
  'Hannah',
  'Diego',
  'Chloe',
  'Kenji',
  'Amara',
  'Lucas',
  'Zoe',
  'Omar',
  'Isabella',
  'Elijah',
  'Mei',
  'Jack',
  'Ava',
  'Santiago',
  'Nia',
  'Henry',
  'Layla',
  'Mohammed',
  'Grace',
  'Ryan',
  'Ana',
  'Samuel',
  'Leah',
  'Andre',
];
const LAST = [
  'Garcia',
  'Smith',
  'Nguyen',
  'Johnson',
  'Patel',
  'Williams',
  'Kim',
  'Brown',
  'Hernandez',
  'Jones',
  "O'Brien",
  'Miller',
  'Davis',
  'Lopez',
  'Wilson',
  'Anderson',
  'Thomas',
  'Taylor',
  'Moore',
  'Jackson',
  'Martin',
  'Lee',
  'Perez',
  'Thompson',
  'White',
  'Harris',
  'Sanchez',
  'Clark',
  'Ramirez',
  'Lewis',
  'Robinson',
  'Walker',
  'Young',
  'Allen',
  'King',
  'Wright',
  'Scott',
  'Torres',
  'Nakamura',
  'Hill',
  'Flores',
  'Green',
  'Adams',
  'Nelson',
];
const KINDS = ['Elementary School', 'Middle School', 'High School', 'Academy', 'K-8 School'];
const PLACES = [
  'Lincoln',
  'Roosevelt',
  'Jefferson',
  'Washington',
  'Franklin',
  'Maple Grove',
  'Riverside',
  'Oak Hill',
  'Cedar Park',
  'Lakeview',
];

export const BENCH_SCHOOLS: readonly string[] = Array.from(
  { length: 50 },
  (_, i) => `${PLACES[i % PLACES.length]} ${KINDS[Math.floor(i / PLACES.length) % KINDS.length]}`,
);

export const BENCH_HEADER = 'First Name,Last Name,Email,Internal ID,School,Role,Coach Email,Phone,Department';

function person(i: number): { first: string; last: string; email: string } {
  const first = FIRST[i % FIRST.length];
  const last = LAST[Math.floor(i / FIRST.length) % LAST.length];
  const email = `${first}.${last.replace(/'/g, '')}${i}@springfield.k12.example`.toLowerCase();
  return { first, last, email };
}

function row(i: number): string {
  const { first, last, email } = person(i);
  const block = i - (i % 20);
  const r = i % 200;
  let role: string;
  if (i % 20 === 0) role = 'Coach';
  else if (r === 1) role = 'System Admin';
  else if (r === 2) role = 'Sub Admin';
  else if (i % 10 === 3) role = 'School Admin';
  else if (i % 10 === 4) role = 'Staff';
  else if (i % 10 === 5) role = 'Aide';
  else role = 'Teacher';
  const districtWide = role === 'System Admin' || role === 'Sub Admin';
  let school = districtWide ? '' : BENCH_SCHOOLS[Math.floor(i / 20) % BENCH_SCHOOLS.length];
  let mail = email;
  if (i % 997 === 500) school = 'Lincon Elementary School'; // misspelled: UNKNOWN_SCHOOL
  if (i % 1499 === 700) mail = email.replace('@', ' at '); // INVALID_EMAIL
  const coach = role === 'Teacher' && i % 3 !== 0 ? person(block).email : '';
  const phone =
    i % 4 === 0
      ? `(555) ${String(100 + (i % 900)).padStart(3, '0')}-${String(i % 10000).padStart(4, '0')}`
      : '';
  const dept = ['Math', 'Science', 'English', 'Arts', 'PE', 'Special Education'][i % 6];
  const lastCell = last.includes(',') || last.includes('"') ? `"${last.replace(/"/g, '""')}"` : last;
  return `${first},${lastCell},${mail},E${String(100000 + i)},${school},${role},${coach},${phone},${dept}\r\n`;
}

export async function writeRoster(file: string, rows: number): Promise<void> {
  const out = fs.createWriteStream(file);
  const finished = once(out, 'finish');
  let chunk = BENCH_HEADER + '\r\n';
  for (let i = 0; i < rows; i++) {
    chunk += row(i);
    if (chunk.length > 1 << 16) {
      if (!out.write(chunk)) await once(out, 'drain');
      chunk = '';
    }
  }
  out.end(chunk);
  await finished;
}

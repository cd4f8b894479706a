import fs from 'node:fs';
import path from 'node:path';
import type { SeededRandom } from './seeded-random';

const HEADER = 'First Name,Last Name,Email,Internal ID,School,Role,Phone';

/**
 * A healthy district's roster as its SIS would export it night after night: every file is the
 * whole district, and between files some people join (creates), some leave (archives), some come
 * back (reactivations) and some change their phone number (updates).
 */
export class DistrictRoster {
  private nextUser = 0;
  private readonly present = new Set<number>();
  private readonly left: number[] = [];
  private readonly phoneVersion = new Map<number, number>();
  private files = 0;

  constructor(
    readonly slug: string,
    readonly schools: readonly string[],
    private readonly users: number,
    private readonly random: SeededRandom,
  ) {}

  email(user: number): string {
    return `user${user}@${this.slug}.example.org`;
  }

  /** The next export: the CSV text and the emails of everyone in it. */
  nextFile(): { csv: string; emails: string[] } {
    if (this.files++ === 0) for (let i = 0; i < this.users; i++) this.join();
    else this.change();
    const members = [...this.present].sort((a, b) => a - b);
    const rows = members.map((user) =>
      [
        `First${user}`,
        `Last${user}`,
        this.email(user),
        `${this.slug}-${String(user).padStart(6, '0')}`,
        this.schools[user % this.schools.length],
        user % 7 === 0 ? 'Coach' : 'Teacher',
        `555-${String(1000 + (this.phoneVersion.get(user) ?? 0) * 37 + user).slice(-4)}`,
      ].join(','),
    );
    return { csv: `${HEADER}\n${rows.join('\n')}\n`, emails: members.map((user) => this.email(user)) };
  }

  private join(): void {
    this.present.add(this.nextUser++);
  }

  private change(): void {
    const members = () => [...this.present];
    // Someone who left in an earlier file may come back; this file's leavers are others.
    const returner =
      this.left.length > 0 && this.random.next() < 0.5
        ? this.left.splice(this.random.int(0, this.left.length - 1), 1)[0]
        : undefined;
    for (let i = 0; i < 2 && this.present.size > 3; i++) {
      const leaver = this.random.pick(members());
      this.present.delete(leaver);
      this.left.push(leaver);
    }
    if (returner !== undefined) this.present.add(returner);
    for (let i = 0; i < 3; i++) this.join();
    for (let i = 0; i < 3; i++) {
      const user = this.random.pick(members());
      this.phoneVersion.set(user, (this.phoneVersion.get(user) ?? 0) + 1);
    }
  }
}

/** What a hostile district sends. */
export type HostileFile = 'quote-header' | 'long-line' | 'cut-row';

/**
 * Files that cost a careless reader its time or memory: a header cell holding a run of 200,000 `'`
 * characters (quadratic for a backtracking quote-trimming regex), one 20 MB line with no line break, and an
 * export cut off in the middle of a row.
 */
export function hostileFileContent(kind: HostileFile, school: string): string {
  const row = (n: number) =>
    `First${n},Last${n},hostile${n}@hostile.example.org,H${n},${school},Teacher,555-0100`;
  switch (kind) {
    case 'quote-header':
      // Letters on both sides: a run of quotes at the very start or end of a cell is trimmed in one
      // pass, a run inside it is what makes a backtracking trim quadratic.
      return `${HEADER},h${"'".repeat(200_000)}h\n${row(1)},\n`;
    case 'long-line':
      return `${HEADER},Notes\n${row(1)},${'x'.repeat(20 * 1024 * 1024)}`;
    case 'cut-row': {
      const rows = Array.from({ length: 50 }, (_, n) => row(n));
      return `${HEADER}\n${rows.join('\n')}\n${row(50).slice(0, 25)}`;
    }
  }
}

/**
 * Puts a file where the hosted SFTP server puts a finished upload: written beside it, renamed into
 * place, its modification time set back so it counts as quiet (no longer being written).
 */
export function dropHostedFile(folder: string, name: string, content: string): void {
  fs.mkdirSync(folder, { recursive: true });
  const staging = path.join(path.dirname(folder), `.${path.basename(folder)}-${name}.writing`);
  fs.writeFileSync(staging, content);
  const past = new Date(Date.now() - 120_000);
  fs.utimesSync(staging, past, past);
  fs.renameSync(staging, path.join(folder, name));
}

import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { type School, SchoolsRepository } from '../../../lib/db/repositories/schools.repository';
import { AuditTrail } from '../audit/audit-trail.service';
import { DistrictsService } from '../districts/districts.service';
import { SchoolName } from './schools.dto';

/** What became of one name of a bulk add, in the order the names were given. */
export type BulkSchoolResult =
  | { name: string; status: 'created' | 'exists'; school?: School; message?: string }
  | { name: string; status: 'invalid'; message: string };

export interface BulkSchoolsOutcome {
  created: number;
  existing: number;
  invalid: number;
  results: BulkSchoolResult[];
}

const plural = (n: number, word: string): string => `${n} ${word}${n === 1 ? '' : 's'}`;

@Injectable()
export class SchoolsService {
  constructor(
    private readonly districts: DistrictsService,
    private readonly schools: SchoolsRepository,
    private readonly audit: AuditTrail,
  ) {}

  async create(districtId: string, name: string): Promise<School> {
    await this.districts.require(districtId);
    const school = await this.schools.create(districtId, name);
    if (!school) throw this.duplicate(districtId, name);
    await this.audit.record('school.created', districtId, { after: school });
    return school;
  }

  async list(districtId: string): Promise<School[]> {
    await this.districts.require(districtId);
    return await this.schools.listForDistrict(districtId);
  }

  /** Adds the valid names the district lacks; each name gets its own result, none fails the others. */
  async createMany(districtId: string, names: readonly string[]): Promise<BulkSchoolsOutcome> {
    await this.districts.require(districtId);
    const checked = names.map((raw) => ({ raw, parsed: SchoolName.safeParse(raw) }));
    const valid = checked.flatMap((c) => (c.parsed.success ? [c.parsed.data] : []));
    const saved = await this.schools.createMany(districtId, valid);
    const seen = new Set<string>();
    const results = checked.map(({ raw, parsed }): BulkSchoolResult => {
      if (!parsed.success)
        return { name: raw.slice(0, 200), status: 'invalid', message: parsed.error.issues[0].message };
      const name = parsed.data;
      const entry = saved.get(name);
      const repeated = seen.has(name);
      seen.add(name);
      // Added by a concurrent request after this statement began: it exists, but is not seen here.
      if (!entry) return { name, status: 'exists', message: 'added at the same time by another request' };
      if (repeated)
        return { name, status: 'exists', school: entry.school, message: 'named earlier in this list' };
      return { name, status: entry.created ? 'created' : 'exists', school: entry.school };
    });
    const count = (status: BulkSchoolResult['status']): number =>
      results.filter((r) => r.status === status).length;
    const outcome = {
      created: count('created'),
      existing: count('exists'),
      invalid: count('invalid'),
      results,
    };
    if (outcome.created > 0)
      await this.audit.record('schools.bulk_created', districtId, {
        after: { created: results.flatMap((r) => (r.status === 'created' ? [r.name] : [])) },
      });
    return outcome;
  }

  /** Roster rows name schools exactly, so files must use the new name from now on. */
  async rename(districtId: string, schoolId: string, name: string): Promise<School> {
    await this.districts.require(districtId);
    const outcome = await this.schools.rename(districtId, schoolId, name);
    if ('duplicate' in outcome) throw this.duplicate(districtId, name);
    if ('missing' in outcome) throw this.missing(districtId, schoolId);
    await this.audit.record('school.renamed', districtId, {
      before: { id: schoolId, name: outcome.previousName },
      after: outcome.renamed,
    });
    return outcome.renamed;
  }

  async delete(districtId: string, schoolId: string): Promise<void> {
    await this.districts.require(districtId);
    const outcome = await this.schools.delete(districtId, schoolId);
    if ('missing' in outcome) throw this.missing(districtId, schoolId);
    if ('inUse' in outcome) {
      const { active, archived } = outcome.inUse;
      throw new ConflictException(
        `School ${schoolId} still has ${plural(active + archived, 'user')} (${active} active, ${archived} archived) and cannot be deleted: ` +
          'move them to another school in your roster file and sync first (archived users keep their school until they are deleted).',
      );
    }
    await this.audit.record('school.deleted', districtId, { before: outcome.deleted });
  }

  private duplicate(districtId: string, name: string): ConflictException {
    return new ConflictException(
      `District ${districtId} already has a school named "${name}"; school names are unique per district.`,
    );
  }

  private missing(districtId: string, schoolId: string): NotFoundException {
    return new NotFoundException(
      `School ${schoolId} not found in district ${districtId}: list its schools with GET /districts/${districtId}/schools.`,
    );
  }
}

import type { PoolClient } from 'pg';
import type { CoachingGroup } from '../contracts/sync-config';

export interface GroupChanges {
  added: number;
  removed: number;
}

/**
 * Coaching groups derived from users' Coach Email, recomputed from the users table inside the apply
 * transaction so they always match what was just applied:
 * - individual: one group per coach (the active user whose email is a Coach Email) holding the
 *   active users who name that coach;
 * - school_teachers: every coachee (active user with a Coach Email) in their school's Teachers group.
 * Options not selected are left as they are (turning an option off does not empty its groups).
 *
 * Set-based over the whole district: the wanted memberships go to a temporary table, then one
 * insert adds what is missing and one delete removes the sync's own memberships no longer wanted.
 */
export class CoachingGroupsRepository {
  constructor(private readonly db: PoolClient) {}

  async sync(districtId: string, options: readonly CoachingGroup[]): Promise<GroupChanges> {
    const total: GroupChanges = { added: 0, removed: 0 };
    if (!options.includes('individual') && !options.includes('school_teachers')) return total;
    // Users were just rewritten in this transaction, so the planner's statistics are stale; these
    // statements always touch the whole district, where hash joins are right and nested loops
    // over a million users are not.
    await this.db.query('SET LOCAL enable_nestloop = off');
    await this.db.query(
      `CREATE TEMP TABLE IF NOT EXISTS wanted_members (group_id uuid NOT NULL, user_id uuid NOT NULL) ON COMMIT DROP`,
    );
    if (options.includes('individual')) add(total, await this.syncIndividual(districtId));
    if (options.includes('school_teachers')) add(total, await this.syncSchoolTeachers(districtId));
    return total;
  }

  private async syncIndividual(districtId: string): Promise<GroupChanges> {
    await this.db.query(
      `INSERT INTO groups (district_id, kind, coach_user_id, name)
       SELECT DISTINCT ON (c.id) $1::uuid, 'coach', c.id, trim(c.first_name || ' ' || c.last_name) || ' – coaching group'
       FROM users c
       JOIN (SELECT DISTINCT lower(coach_email) AS e FROM users
             WHERE district_id = $1 AND status = 'active' AND coach_email IS NOT NULL) k ON k.e = lower(c.email)
       WHERE c.district_id = $1 AND c.status = 'active'
       ON CONFLICT (district_id, coach_user_id) WHERE kind = 'coach' DO NOTHING`,
      [districtId],
    );
    return await this.reconcile(
      districtId,
      'coach',
      `SELECT DISTINCT g.id, t.id
       FROM groups g
       JOIN users c ON c.id = g.coach_user_id AND c.status = 'active'
       JOIN users t ON lower(t.coach_email) = lower(c.email)
       WHERE g.district_id = $1 AND g.kind = 'coach'
         AND t.district_id = $1 AND t.status = 'active' AND t.id <> c.id`,
    );
  }

  private async syncSchoolTeachers(districtId: string): Promise<GroupChanges> {
    await this.db.query(
      `INSERT INTO groups (district_id, kind, school_id, name)
       SELECT $1, 'school_teachers', s.id, s.name || ' Teachers'
       FROM schools s
       JOIN (SELECT DISTINCT school_id FROM users
             WHERE district_id = $1 AND status = 'active' AND coach_email IS NOT NULL) k ON k.school_id = s.id
       WHERE s.district_id = $1
       ON CONFLICT (district_id, school_id) WHERE kind = 'school_teachers' DO NOTHING`,
      [districtId],
    );
    return await this.reconcile(
      districtId,
      'school_teachers',
      `SELECT g.id, t.id
       FROM groups g JOIN users t ON t.school_id = g.school_id
       WHERE g.district_id = $1 AND g.kind = 'school_teachers'
         AND t.district_id = $1 AND t.status = 'active' AND t.coach_email IS NOT NULL`,
    );
  }

  /** Adds missing members and removes the sync's own members that should no longer be there. */
  private async reconcile(districtId: string, kind: string, wantedSql: string): Promise<GroupChanges> {
    if (!(await this.hasMembers(districtId, kind))) {
      // First run with this option: nothing to compare or remove, the wanted members (distinct pairs)
      // go straight in, without the per-row cost of ON CONFLICT. A member added by hand at this very
      // moment makes the apply fail on the primary key, and its retry takes the path below.
      const added = await this.db.query(
        `INSERT INTO group_members (group_id, user_id, by_sync) SELECT w.*, true FROM (${wantedSql}) w`,
        [districtId],
      );
      return { added: added.rowCount ?? 0, removed: 0 };
    }
    await this.db.query('TRUNCATE wanted_members');
    await this.db.query(`INSERT INTO wanted_members (group_id, user_id) ${wantedSql}`, [districtId]);
    await this.db.query('ANALYZE wanted_members');
    const added = await this.db.query(
      `INSERT INTO group_members (group_id, user_id, by_sync)
       SELECT w.group_id, w.user_id, true FROM wanted_members w
       WHERE NOT EXISTS (SELECT 1 FROM group_members m WHERE m.group_id = w.group_id AND m.user_id = w.user_id)
       ON CONFLICT (group_id, user_id) DO NOTHING`,
    );
    const removed = await this.db.query(
      `DELETE FROM group_members gm USING groups g
       WHERE gm.group_id = g.id AND g.district_id = $1 AND g.kind = $2 AND gm.by_sync
         AND NOT EXISTS (SELECT 1 FROM wanted_members w WHERE w.group_id = gm.group_id AND w.user_id = gm.user_id)`,
      [districtId, kind],
    );
    return { added: added.rowCount ?? 0, removed: removed.rowCount ?? 0 };
  }

  /** Whether any group of this kind has a member, added by the sync or by hand. */
  private async hasMembers(districtId: string, kind: string): Promise<boolean> {
    const { rows } = await this.db.query<{ yes: boolean }>(
      `SELECT EXISTS (SELECT 1 FROM group_members gm JOIN groups g ON g.id = gm.group_id
                      WHERE g.district_id = $1 AND g.kind = $2) AS yes`,
      [districtId, kind],
    );
    return rows[0].yes;
  }
}

function add(total: GroupChanges, part: GroupChanges): void {
  total.added += part.added;
  total.removed += part.removed;
}

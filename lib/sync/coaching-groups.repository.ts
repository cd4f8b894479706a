import type { PoolClient } from 'pg';

export const COACHING_GROUP_OPTIONS = ['individual', 'school_teachers'] as const;
export type CoachingGroupOption = (typeof COACHING_GROUP_OPTIONS)[number];

export interface GroupChanges {
  added: number;
  removed: number;
}

/**
 * Coaching groups derived from users' Coach Email, recomputed from the users table inside the apply
 * transaction so they always match what was just applied:
 * - individual: one group per coach (the active user whose email is a Coach Email) holding the
 *   active users who name that coach;
 * - school_teachers: every coachee in their school's Teachers group.
 * Options not selected are left as they are (turning an option off does not empty its groups).
 */
export class CoachingGroupsRepository {
  constructor(private readonly db: PoolClient) {}

  async sync(districtId: string, options: readonly string[]): Promise<GroupChanges> {
    const total: GroupChanges = { added: 0, removed: 0 };
    if (options.includes('individual')) add(total, await this.syncIndividual(districtId));
    if (options.includes('school_teachers')) add(total, await this.syncSchoolTeachers(districtId));
    return total;
  }

  private async syncIndividual(districtId: string): Promise<GroupChanges> {
    await this.db.query(
      `INSERT INTO groups (district_id, kind, coach_user_id, name)
       SELECT $1, 'coach', c.id, trim(c.first_name || ' ' || c.last_name) || ' – coaching group'
       FROM users c
       WHERE c.district_id = $1 AND c.status = 'active' AND c.email IS NOT NULL
         AND EXISTS (SELECT 1 FROM users t WHERE t.district_id = $1 AND t.status = 'active'
                     AND lower(t.coach_email) = lower(c.email) AND t.id <> c.id)
       ON CONFLICT (district_id, coach_user_id) WHERE kind = 'coach' DO NOTHING`,
      [districtId],
    );
    const desired = `SELECT g.id AS group_id, t.id AS user_id
       FROM groups g
       JOIN users c ON c.id = g.coach_user_id AND c.status = 'active'
       JOIN users t ON t.district_id = $1 AND t.status = 'active' AND t.id <> c.id
                   AND lower(t.coach_email) = lower(c.email)
       WHERE g.district_id = $1 AND g.kind = 'coach'`;
    return await this.reconcile(districtId, 'coach', desired);
  }

  private async syncSchoolTeachers(districtId: string): Promise<GroupChanges> {
    await this.db.query(
      `INSERT INTO groups (district_id, kind, school_id, name)
       SELECT $1, 'school_teachers', s.id, s.name || ' Teachers'
       FROM schools s
       WHERE s.district_id = $1
         AND EXISTS (SELECT 1 FROM users t WHERE t.school_id = s.id AND t.district_id = $1
                     AND t.status = 'active' AND t.coach_email IS NOT NULL)
       ON CONFLICT (district_id, school_id) WHERE kind = 'school_teachers' DO NOTHING`,
      [districtId],
    );
    const desired = `SELECT g.id AS group_id, t.id AS user_id
       FROM groups g
       JOIN users t ON t.school_id = g.school_id AND t.district_id = $1 AND t.status = 'active'
                   AND t.coach_email IS NOT NULL
       WHERE g.district_id = $1 AND g.kind = 'school_teachers'`;
    return await this.reconcile(districtId, 'school_teachers', desired);
  }

  /** Adds missing members and removes the sync's own members that should no longer be there. */
  private async reconcile(districtId: string, kind: string, desiredSql: string): Promise<GroupChanges> {
    const added = await this.db.query(
      `INSERT INTO group_members (group_id, user_id, by_sync)
       SELECT d.group_id, d.user_id, true FROM (${desiredSql}) d
       ON CONFLICT (group_id, user_id) DO NOTHING`,
      [districtId],
    );
    const removed = await this.db.query(
      `DELETE FROM group_members gm USING groups g
       WHERE gm.group_id = g.id AND g.district_id = $1 AND g.kind = $2 AND gm.by_sync
         AND NOT EXISTS (SELECT 1 FROM (${desiredSql}) d WHERE d.group_id = gm.group_id AND d.user_id = gm.user_id)`,
      [districtId, kind],
    );
    return { added: added.rowCount ?? 0, removed: removed.rowCount ?? 0 };
  }
}

function add(total: GroupChanges, part: GroupChanges): void {
  total.added += part.added;
  total.removed += part.removed;
}

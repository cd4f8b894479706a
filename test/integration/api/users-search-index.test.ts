import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { UsersRepository } from '../../../lib/db/repositories/users.repository';
import { seedDistrict } from '../../support/seed';
import { useTestDatabase } from '../../support/suite';

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  Plans?: PlanNode[];
}

const nodes = (node: PlanNode): PlanNode[] => [node, ...(node.Plans ?? []).flatMap(nodes)];

describe('user search: served by indexes', () => {
  const db = useTestDatabase();
  let districtId = '';
  const repo = () => new UsersRepository(db.pool);

  before(async () => {
    const [target, other] = [await seedDistrict(db.pool), await seedDistrict(db.pool)];
    districtId = target.id;
    // Two districts of 30,000 users each: a search must not read either one whole.
    for (const id of [target.id, other.id])
      await db.pool.query(
        `INSERT INTO users (district_id, email, first_name, last_name, internal_id, accounting_id, clever_id, role)
         SELECT $1, 'person' || n || '@district.org', 'First' || n, 'Last' || n, 'EMP' || n, 'ACC' || n,
                'clv' || md5(n::text), 'Teacher'
         FROM generate_series(1, 30000) AS n`,
        [id],
      );
    await db.pool.query('ANALYZE users');
  });

  /** The index scans the planner chose for the repository's own listing statement. */
  async function indexesUsed(q: string): Promise<string[]> {
    const query = repo().listQuery(districtId, { q, limit: 10, offset: 0 });
    const { rows } = await db.pool.query<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>(
      `EXPLAIN (FORMAT JSON) ${query.text}`,
      [...query.values, 10, 0],
    );
    return nodes(rows[0]['QUERY PLAN'][0].Plan)
      .filter((n) => n['Node Type'].includes('Index'))
      .map((n) => n['Index Name']!);
  }

  it('looks each searched column up in its own index', async () => {
    const used = await indexesUsed('Last123');
    for (const index of [
      'users_search_full_name',
      'users_search_last_name',
      'users_search_email',
      'users_search_internal_id',
      'users_search_accounting_id',
      'users_search_clever_id',
      'users_search_platform_id',
    ])
      assert.ok(used.includes(index), `${index} in ${used.join(', ')}`);
  });

  it('finds what the indexes point to, scoped to the district', async () => {
    const found = await repo().listForDistrict(districtId, { q: 'emp2999', limit: 100, offset: 0 });
    // EMP2999 and EMP29990..EMP29999.
    assert.equal(found.total, 11);
    assert.ok(found.users.every((u) => u.internalId!.startsWith('EMP2999')));
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { useSyncDistricts } from './sync-harness';

describe('sync engine rules', () => {
  const { db, district: harness } = useSyncDistricts();

  it('matching by email: a changed email archives the old profile and creates a new one', async () => {
    const h = await harness({ matchingKey: 'email' });
    await h.sync({ fixture: 'email-v1.csv' });
    const old = await h.user('email', 'maria.garcia@district.org');
    const r = await h.sync({ fixture: 'email-v2.csv' });
    assert.equal(r.plan?.create, 1);
    assert.equal(r.plan?.archive, 1);
    // Email case does not matter: JOHN.SMITH@ is John.
    assert.equal(r.plan?.unchanged, 1);
    assert.equal((await h.user('u.id::text', old!.id))?.status, 'archived');
    const fresh = await h.user('email', 'maria.garcia-lopez@district.org');
    assert.equal(fresh?.status, 'active');
    assert.notEqual(fresh?.id, old?.id);
  });

  it('a skipped row keeps its user even when its key sits in the wrong column (an unquoted comma)', async () => {
    const header = 'First Name,Last Name,Email,Internal ID,Role,School\n';
    const jordan = 'Jordan,Smith,jordan.smith@district.org,0004417,Teacher,Minty Middle School\n';
    const ana = 'Ana,Ruiz,ana.ruiz@district.org,0004418,Teacher,Minty Middle School\n';
    // "Smith, Jr." without quotes: every value after it moves one column to the right.
    const shifted = 'Jordan,Smith, Jr.,jordan.smith@district.org,0004417,Teacher,Minty Middle School\n';
    for (const matchingKey of ['email', 'internal_id'] as const) {
      const h = await harness({ matchingKey });
      await h.sync({ name: 'users.csv', text: header + jordan + ana });
      const before = await h.user('email', 'jordan.smith@district.org');
      const r = await h.sync({ name: 'users.csv', text: header + shifted + ana });
      assert.equal(r.stage.rowsWithErrors, 1, matchingKey);
      assert.ok(
        (await h.errors(r.runId)).some((e) => e.row_number === 2 && e.code === 'CELLS_BEYOND_HEADER'),
        matchingKey,
      );
      assert.equal(r.plan?.archive, 0, `${matchingKey}: nobody is archived for a row with an error`);
      const after = await h.user('email', 'jordan.smith@district.org');
      assert.equal(after?.status, 'active', matchingKey);
      assert.equal(after?.updated_at.getTime(), before?.updated_at.getTime(), `${matchingKey}: left as is`);
    }
  });

  it('a skipped row protects only: its values never make another row a duplicate', async () => {
    // Matching by email, a teacher's row is skipped (unknown role) and names the coach in Coach Email;
    // the coach's own row is still applied, and the teacher is not created.
    const h = await harness({ matchingKey: 'email' });
    const r = await h.sync({
      name: 'users.csv',
      text:
        'First Name,Last Name,Email,Role,School,Coach Email\n' +
        'Tia,Ng,tia.ng@district.org,Teachr,Minty Middle School,cora.bell@district.org\n' +
        'Cora,Bell,cora.bell@district.org,Coach,Minty Middle School,\n',
    });
    assert.deepEqual(
      (await h.errors(r.runId)).map((e) => e.code),
      ['UNKNOWN_ROLE'],
    );
    assert.deepEqual(
      (await h.users()).map((u) => [u.email, u.status]),
      [['cora.bell@district.org', 'active']],
    );
  });

  it('duplicate rows of an existing user leave that user as is', async () => {
    const h = await harness({ matchingKey: 'internal_id' });
    const header = 'First Name,Last Name,Email,Internal ID,School,Role\n';
    await h.sync({
      name: 'users.csv',
      text:
        header +
        'Pat,Lee,pat.lee@district.org,S100,Minty Middle School,Teacher\n' +
        'Lou,Reed,lou.reed@district.org,S400,Lincoln Elementary,Teacher\n',
    });
    const pat = await h.user('internal_id', 'S100');
    const r = await h.sync({
      name: 'users.csv',
      text:
        header +
        'Pat,Lee,pat.lee@district.org,S100,Minty Middle School,Teacher\n' +
        'Patricia,Lee,patricia.lee@district.org,S100,Lincoln Elementary,Teacher\n' +
        'Lou,Reed,lou.reed@district.org,S400,Lincoln Elementary,Teacher\n',
    });
    assert.equal(r.plan?.archive, 0);
    const after = await h.user('internal_id', 'S100');
    assert.deepEqual(
      [after?.status, after?.first_name, after?.updated_at.getTime()],
      ['active', 'Pat', pat?.updated_at.getTime()],
    );
  });

  it('within-file duplicates: every copy is a row error and none is applied', async () => {
    const h = await harness({ matchingKey: 'internal_id' });
    const r = await h.sync({ fixture: 'duplicates.csv' });
    const errors = await h.errors(r.runId);
    const dupKey = errors.filter((e) => e.code === 'DUPLICATE_KEY');
    assert.deepEqual(
      dupKey.map((e) => e.row_number),
      [2, 3],
    );
    assert.match(dupKey[0].message, /Internal ID "S100" appears on 2 rows \(2, 3\)/);
    assert.deepEqual(
      errors.filter((e) => e.code === 'DUPLICATE_EMAIL').map((e) => e.row_number),
      [4, 5],
    );
    assert.equal(r.stage.rowsWithErrors, 5); // 2 + 2 duplicates + the formula-looking school
    assert.equal(r.stage.rowsValid, 1);
    const users = await h.users();
    assert.deepEqual(
      users.map((u) => u.email),
      ['lou.reed@district.org'],
    );
    assert.equal(r.run.rows_with_errors, 5);
  });

  it('a header-only file is fatal and archives nobody', async () => {
    const h = await harness({ matchingKey: 'internal_id' });
    await h.sync({ fixture: 'roster-v1.csv' });
    const r = await h.sync({ fixture: 'header-only.csv' });
    assert.equal(r.stage.fatal?.type, 'EmptyFile');
    assert.equal(r.run.status, 'failed');
    assert.equal(r.run.failure_type, 'EmptyFile');
    const active = (await h.users()).filter((u) => u.status === 'active');
    assert.equal(active.length, 7);
    assert.ok((await h.errors(r.runId)).some((e) => e.code === 'HEADER_ONLY'));
  });

  it('dry run: plans, saves samples, applies nothing', async () => {
    const h = await harness({ matchingKey: 'internal_id' });
    const r = await h.sync({ fixture: 'roster-v1.csv' }, true);
    assert.equal(r.plan?.create, 7);
    assert.equal((await h.users()).length, 0);
    const samples = r.run.plan_samples as Record<string, Array<{ email: string }>>;
    assert.equal(samples.create.length, 5);
    assert.ok(samples.create.some((s) => s.email === 'ada.lovelace@district.org'));
    assert.equal(r.run.applied_at, null);
    // Even if the workflow asked, a dry run is never applied.
    const apply = await h.activities.applyChanges({ runId: r.runId });
    assert.equal(apply.applied, false);
  });

  it('matching by platform id: the file names users by their platform id', async () => {
    const h = await harness({ matchingKey: 'platform_id' });
    const id = '6f1d3c2a-9b8e-4c7d-a6b5-1234567890ab';
    const text = (last: string) =>
      `First Name,Last Name,Email,Platform ID,School,Role\r\nRosa,${last},rosa.parks@district.org,${id.toUpperCase()},Lincoln Elementary,Teacher\r\n`;
    const first = await h.sync({ name: 'users.csv', text: text('Parks') });
    assert.equal(first.apply?.created, 1);
    assert.equal((await h.user('email', 'rosa.parks@district.org'))?.id, id);
    const second = await h.sync({ name: 'users.csv', text: text('McCauley') });
    assert.equal(second.apply?.updated, 1);
    assert.equal(second.apply?.created, 0);
    assert.equal((await h.user('email', 'rosa.parks@district.org'))?.last_name, 'McCauley');
  });

  it('matching by platform id: an id that is not a UUID, or is taken outside the district, is a row error, never a new user each run', async () => {
    const taken = '7a2e4f10-3c5b-4d6e-8f90-abcdef012345';
    const elsewhere = await harness({ matchingKey: 'platform_id' });
    await elsewhere.sync({
      name: 'users.csv',
      text: `First Name,Last Name,Email,Platform ID,School,Role\nAl,Ong,al.ong@other.org,${taken},Lincoln Elementary,Teacher\n`,
    });
    const h = await harness({ matchingKey: 'platform_id' });
    const text =
      'First Name,Last Name,Email,Platform ID,School,Role\n' +
      'Rosa,Parks,rosa.parks@district.org,abc,Lincoln Elementary,Teacher\n' +
      `Bo,Diaz,bo.diaz@district.org,${taken.toUpperCase()},Lincoln Elementary,Teacher\n` +
      'Cy,Ho,cy.ho@district.org,0b9c8d7e-6f5a-4b3c-9d2e-1f0a9b8c7d6e,Lincoln Elementary,Teacher\n';
    for (const attempt of [1, 2]) {
      const r = await h.sync({ name: 'users.csv', text });
      const errors = (await h.errors(r.runId)).filter((e) => e.code === 'INVALID_PLATFORM_ID');
      assert.deepEqual(
        errors.map((e) => [e.row_number, e.value]),
        [
          [2, 'abc'],
          [3, taken],
        ],
        `run ${attempt}`,
      );
      assert.match(
        errors[0].message,
        /^Row 2: Platform ID 'abc' is not a rostersync user id\. Copy the Platform ID/,
      );
      assert.match(
        errors[1].message,
        /^Row 3: Platform ID "7a2e4f10-.*" is already the id of an account outside this district/,
      );
      assert.deepEqual(
        (await h.users()).map((u) => u.email),
        ['cy.ho@district.org'],
        `run ${attempt}: only the row with a usable id is created, once`,
      );
    }
    assert.equal((await elsewhere.user('email', 'al.ong@other.org'))?.status, 'active');
  });

  for (const key of ['accounting_id', 'clever_id'] as const) {
    it(`matching by ${key}: an email change updates the same user; leading zeros are kept`, async () => {
      const h = await harness({ matchingKey: key });
      await h.sync({ fixture: 'accounting-v1.csv' });
      const nina = await h.user('email', 'nina.simone@district.org');
      const r = await h.sync({ fixture: 'accounting-v2.csv' });
      assert.deepEqual(
        r.plan && { c: r.plan.create, u: r.plan.update, n: r.plan.unchanged, a: r.plan.archive },
        { c: 0, u: 1, n: 1, a: 1 },
      );
      const renamed = await h.user('email', 'nina.waymon@district.org');
      assert.equal(renamed?.id, nina?.id, 'same account, new email');
      assert.equal(renamed?.status, 'active');
      assert.equal((await h.user('email', 'miles.davis@district.org'))?.status, 'archived');
      const { rows } = await db.pool.query<{ accounting_id: string }>(
        'SELECT accounting_id FROM users WHERE id = $1',
        [nina!.id],
      );
      assert.equal(rows[0].accounting_id, '00451');
    });
  }

  it('coaching groups: individual groups and school Teachers groups follow the file', async () => {
    const h = await harness({
      matchingKey: 'internal_id',
      coachingGroups: ['individual', 'school_teachers'],
    });
    await h.sync({ fixture: 'roster-v1.csv' });
    assert.deepEqual(await h.groupMembers(), {
      'Grace Hopper – coaching group': [
        'ada.lovelace@district.org',
        'alan.turing@district.org',
        'katherine.johnson@district.org',
      ],
      'Minty Middle School Teachers': ['ada.lovelace@district.org', 'alan.turing@district.org'],
      'Lincoln Elementary Teachers': ['katherine.johnson@district.org'],
    });
    // v2: Alan left (archived), Katherine has no coach anymore, Margaret joins Grace's group.
    await h.sync({ fixture: 'roster-v2.csv' });
    assert.deepEqual(await h.groupMembers(), {
      'Grace Hopper – coaching group': ['ada.lovelace@district.org', 'margaret.hamilton@district.org'],
      'Minty Middle School Teachers': ['ada.lovelace@district.org'],
      'Lincoln Elementary Teachers': [],
      'Roosevelt High School Teachers': ['margaret.hamilton@district.org'],
    });
  });

  it('coaching groups: a member added by hand stays through later runs', async () => {
    const h = await harness({ matchingKey: 'internal_id', coachingGroups: ['individual'] });
    await h.sync({ fixture: 'roster-v1.csv' });
    // An admin adds Edsger (who names no coach) to Grace's group by hand.
    await db.pool.query(
      `INSERT INTO group_members (group_id, user_id, by_sync)
       SELECT g.id, u.id, false FROM groups g, users u
       WHERE g.district_id = $1 AND g.kind = 'coach' AND u.district_id = $1 AND u.email = 'edsger.dijkstra@district.org'`,
      [h.districtId],
    );
    await h.sync({ fixture: 'roster-v2.csv' });
    assert.deepEqual(await h.groupMembers(), {
      'Grace Hopper – coaching group': [
        'ada.lovelace@district.org',
        'edsger.dijkstra@district.org',
        'margaret.hamilton@district.org',
      ],
    });
  });

  it('coaching groups: turning an option on builds its groups even when the file is unchanged', async () => {
    const h = await harness({ matchingKey: 'internal_id' });
    await h.sync({ fixture: 'roster-v1.csv' });
    assert.deepEqual(await h.groupMembers(), {});
    // As the settings page saves it: the config's updated_at moves.
    await db.pool.query(
      `UPDATE sync_configs SET coaching_groups = '{individual}', updated_at = now() WHERE district_id = $1`,
      [h.districtId],
    );
    const r = await h.sync({ fixture: 'roster-v1.csv' });
    assert.equal(r.plan?.unchanged, 7);
    const expected = {
      'Grace Hopper – coaching group': [
        'ada.lovelace@district.org',
        'alan.turing@district.org',
        'katherine.johnson@district.org',
      ],
    };
    assert.deepEqual(await h.groupMembers(), expected);
    // The same file once more: nothing to change, the groups stay as they are.
    await h.sync({ fixture: 'roster-v1.csv' });
    assert.deepEqual(await h.groupMembers(), expected);
  });
});

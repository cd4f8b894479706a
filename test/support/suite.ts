import { after, before } from 'node:test';
import { createTestDatabase, type TestDatabase } from './postgres';

/**
 * A resource the enclosing suite (or test file) shares: started before its tests, stopped after
 * them. The object returned stands for the resource once it is started, so a suite declares it in
 * one line where it would otherwise need a variable and two hooks.
 */
export function useForSuite<T extends object>(
  start: () => Promise<T>,
  stop: (resource: T) => Promise<void> | void,
): T {
  let current: T | undefined;
  before(async () => {
    current = await start();
  });
  after(async () => {
    if (current) await stop(current);
  });
  return new Proxy({} as T, {
    get(_, key) {
      if (!current) throw new Error(`${String(key)} was read before the suite started its resource`);
      const value: unknown = Reflect.get(current, key, current);
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(current) : value;
    },
  });
}

/** The suite's own database, cloned from the migrated template, dropped after the suite. */
export function useTestDatabase(): TestDatabase {
  return useForSuite(createTestDatabase, (db) => db.drop());
}

import type { RunOutcome } from './run-mail';

/**
 * Which admin notice a run gets, so districts trust their notices: every failure and every held run
 * is mailed, but the same failure on run after run (same failure type, same file) is mailed once and
 * then at most once a day while it lasts, and the first success after a failure says so once even
 * when the district asked for no success notices. Pure: the history comes from NoticeHistory.
 */

/** How often a failure that keeps repeating is mailed again. */
export const REPEATED_FAILURE_REMINDER_MS = 24 * 3_600_000;

/** The district's previous run that ended as a sync (not a dry run, not discarded). */
export interface PreviousRun {
  id: string;
  status: 'succeeded' | 'failed' | 'held';
  failureType: string | null;
  fileSha256: string | null;
}

export interface NoticeSituation {
  outcome: RunOutcome;
  failureType: string | null;
  fileSha256: string | null;
  notifyOnSuccess: boolean;
  /** Welcome mails the server refused for good: new users who were never told need an admin. */
  refusedWelcomes: number;
  previous: PreviousRun | null;
  /** When a notice of the same failure was last mailed, in its current unbroken streak. */
  lastNoticeOfSameFailure: Date | null;
  now: Date;
}

export type NoticeDecision = { send: true; recoveredFrom?: PreviousRun } | { send: false; reason: string };

export function sameFailure(
  previous: PreviousRun | null,
  failureType: string | null,
  fileSha256: string | null,
): boolean {
  return (
    previous !== null &&
    previous.status === 'failed' &&
    previous.failureType === failureType &&
    previous.fileSha256 === fileSha256
  );
}

export function decideNotice(s: NoticeSituation): NoticeDecision {
  switch (s.outcome) {
    case 'held':
      return { send: true };
    case 'failed': {
      const last = s.lastNoticeOfSameFailure;
      if (
        sameFailure(s.previous, s.failureType, s.fileSha256) &&
        last !== null &&
        s.now.getTime() - last.getTime() < REPEATED_FAILURE_REMINDER_MS
      ) {
        const next = new Date(last.getTime() + REPEATED_FAILURE_REMINDER_MS).toISOString();
        return {
          send: false,
          reason: `same failure (${s.failureType}, same file) as the previous run, already mailed at ${last.toISOString()}; mailed again from ${next} while it lasts`,
        };
      }
      return { send: true };
    }
    case 'succeeded':
      if (s.previous?.status === 'failed') return { send: true, recoveredFrom: s.previous };
      return s.notifyOnSuccess || s.refusedWelcomes > 0
        ? { send: true }
        : { send: false, reason: 'the district asked for no success notices' };
    case 'dry_run':
      return s.notifyOnSuccess
        ? { send: true }
        : { send: false, reason: 'the district asked for no success notices' };
  }
}

/** Runs whose file is expected to be new by now: the schedule's, not Sync Now or an upload's. */
const SCHEDULED_TRIGGERS: readonly string[] = ['schedule', 'catch_up'];

/** Whether a file first read at `firstReadAt` is still the newest after `staleFeedHours` (null: off). */
export function feedStale(staleFeedHours: number | null, firstReadAt: Date | null, now: Date): boolean {
  return (
    staleFeedHours !== null &&
    firstReadAt !== null &&
    now.getTime() - firstReadAt.getTime() >= staleFeedHours * 3_600_000
  );
}

/**
 * A stale feed alert is raised by a scheduled run that finds no new file (a different SHA-256) has
 * arrived for `staleFeedHours`; it is mailed once per stale file (its dedupe key is the file's hash).
 */
export function isFeedStale(s: {
  trigger: string;
  staleFeedHours: number | null;
  fileFirstReadAt: Date | null;
  now: Date;
}): boolean {
  return SCHEDULED_TRIGGERS.includes(s.trigger) && feedStale(s.staleFeedHours, s.fileFirstReadAt, s.now);
}

import type { Pool } from 'pg';
import { type SyncRunRow, SyncRunsRepository } from '../db/repositories/sync-runs.repository';
import { MailDelivery, type MailProgress } from './mail-delivery';
import { MailOutboxRepository } from './mail-outbox.repository';
import type { Mailer } from './mailer';
import { NoticeHistoryRepository } from './notice-history.repository';
import { decideNotice, isFeedStale } from './notice-policy';
import { RunMailDataRepository, type MailDistrict } from './run-mail-data.repository';
import { adminNotice, runOutcome, staleFeedAlert } from './run-mail';

/** Refused welcome addresses an admin notice lists by name. */
const REFUSED_LISTED = 10;

export interface AdminNoticeDeps {
  pool: Pool;
  mailer: Mailer;
  apiBaseUrl: string;
}

/**
 * What a run tells the district's admins: the stale-feed alert a scheduled run raises, and the
 * run's own notice as the notice policy decides. Through the outbox, like every mail.
 */
export class AdminNoticeSender {
  private readonly outbox: MailOutboxRepository;
  private readonly runs: SyncRunsRepository;
  private readonly history: NoticeHistoryRepository;
  private readonly data: RunMailDataRepository;
  private readonly delivery: MailDelivery;

  constructor(private readonly deps: AdminNoticeDeps) {
    this.outbox = new MailOutboxRepository(deps.pool);
    this.runs = new SyncRunsRepository(deps.pool);
    this.history = new NoticeHistoryRepository(deps.pool);
    this.data = new RunMailDataRepository(deps.pool);
    this.delivery = new MailDelivery(this.outbox, deps.mailer);
  }

  /** Returns the mails sent to the admins for the run. */
  async send(runId: string, progress: MailProgress): Promise<number> {
    const district = await this.data.districtOf(runId);
    if (!district) throw new Error(`Run ${runId} does not exist`);
    const run = await this.runs.get(runId);
    if (!run) throw new Error(`Run ${runId} does not exist`);
    const recipients = district.notify_emails ?? [];
    if (recipients.length === 0) return 0;
    const stale = await this.alertStaleFeed(run, district, recipients, progress);
    return stale + (await this.noticeOutcome(run, district, recipients, progress));
  }

  /** The stale-feed alert a scheduled run raises, once per stale file; returns the mails sent. */
  private async alertStaleFeed(
    run: SyncRunRow,
    district: MailDistrict,
    recipients: string[],
    progress: MailProgress,
  ): Promise<number> {
    // As of the run, not of the mail step: a retry decides the same, and the files of runs
    // created after it do not count.
    const file = await this.runs.currentFile(district.district_id, run.created_at);
    const stale = isFeedStale({
      trigger: run.trigger,
      staleFeedHours: district.stale_feed_hours,
      fileFirstReadAt: file?.firstReadAt ?? null,
      now: run.created_at,
    });
    if (!stale || !file || district.stale_feed_hours === null) return 0;
    const alert = staleFeedAlert({
      districtName: district.name,
      districtId: district.district_id,
      hours: district.stale_feed_hours,
      file,
      apiBaseUrl: this.deps.apiBaseUrl,
    });
    await this.outbox.enqueue(
      recipients.map((recipient) => ({
        districtId: district.district_id,
        runId: run.id,
        // One alert per stale file, whichever run notices it first.
        dedupeKey: `stale:${district.district_id}:${file.sha256}:${recipient}`,
        kind: 'stale',
        recipient,
        subject: alert.subject,
        body: alert.body,
      })),
    );
    return await this.delivery.deliverReported(run.id, 'stale', progress);
  }

  /** The run's own notice, as the notice policy decides; returns the mails sent. */
  private async noticeOutcome(
    run: SyncRunRow,
    district: MailDistrict,
    recipients: string[],
    progress: MailProgress,
  ): Promise<number> {
    const runId = run.id;
    const outcome = runOutcome(run);
    const refusedWelcomes = await this.outbox.refused(runId, 'welcome', REFUSED_LISTED);
    // Decided once: a retried step delivers what the first attempt wrote to the outbox.
    const owed = await this.outbox.hasAny(runId, 'notify');
    const decision = owed
      ? { send: true as const }
      : decideNotice({
          outcome,
          failureType: run.failure_type,
          fileSha256: run.file_sha256,
          notifyOnSuccess: district.notify_on_success === true,
          refusedWelcomes: refusedWelcomes.total,
          previous: await this.history.previousRun(runId),
          lastNoticeOfSameFailure: await this.history.lastNoticeOfSameFailure(runId),
          now: new Date(),
        });
    if (!decision.send) {
      progress.log.info(`No admin notice for run ${runId}: ${decision.reason}`, { runId });
      return 0;
    }
    const top = await this.data.topFindings(runId);
    const notice = adminNotice({
      districtName: district.name,
      run,
      outcome,
      apiBaseUrl: this.deps.apiBaseUrl,
      topErrors: top.filter((t) => !t.warning).map(({ code, count }) => ({ code, count })),
      topWarnings: top.filter((t) => t.warning).map(({ code, count }) => ({ code, count })),
      refusedWelcomes,
      recoveredFrom: 'recoveredFrom' in decision ? decision.recoveredFrom : undefined,
    });
    await this.outbox.enqueue(
      recipients.map((recipient) => ({
        districtId: district.district_id,
        runId,
        dedupeKey: `notify:${runId}:${outcome}:${recipient}`,
        kind: 'notify',
        recipient,
        subject: notice.subject,
        body: notice.body,
      })),
    );
    return await this.delivery.deliverReported(runId, 'notify', progress);
  }
}

import type { Queryable } from '../queryable';
import type { ScheduleFrequency } from '../../contracts/schedule';
import type { CoachingGroup, FileRule, FileSource, MatchingKey } from '../../contracts/sync-config';
import { ColumnMapping, OneRosterOptions, type RosterFormat } from '../../contracts/roster-format';

export interface ExternalServerSettings {
  host: string;
  port: number;
  username: string;
  hostKeyFingerprint: string;
  /** Folder on the server to read; null: the login's home folder. */
  path: string | null;
}

/** A district's sync settings as stored. The encrypted fields never leave the service layer. */
export interface SyncConfigRecord {
  districtId: string;
  enabled: boolean;
  frequency: ScheduleFrequency;
  startDate: string;
  timeOfDay: string;
  source: FileSource;
  fileRule: FileRule;
  fileName: string | null;
  processOnArrival: boolean;
  matchingKey: MatchingKey;
  coachingGroups: CoachingGroup[];
  errorThresholdPct: number;
  maxArchivePct: number;
  maxArchiveCount: number;
  maxRowDropPct: number;
  welcomeEmails: boolean;
  notifyEmails: string[];
  notifyOnSuccess: boolean;
  /** Hours without a new file after which a scheduled run alerts the admins once; null: off. */
  staleFeedHours: number | null;
  format: RosterFormat;
  /** The `mapped` format's columns, and overrides of OneRoster's default columns; null: none saved. */
  columnMapping: ColumnMapping | null;
  oneRoster: OneRosterOptions;
  external: ExternalServerSettings | null;
  /** AES-GCM blobs (lib/crypto/secret-box); null when not set. */
  externalPasswordEnc: string | null;
  externalKeyEnc: string | null;
  externalKeyPassphraseEnc: string | null;
  updatedAt: Date;
}

export type SyncConfigWrite = Omit<SyncConfigRecord, 'districtId' | 'updatedAt'>;

interface Row {
  district_id: string;
  enabled: boolean;
  frequency: ScheduleFrequency;
  start_date: string;
  time_of_day: string;
  source: FileSource;
  file_rule: FileRule;
  file_name: string | null;
  process_on_arrival: boolean;
  matching_key: MatchingKey;
  coaching_groups: CoachingGroup[];
  error_threshold_pct: number;
  max_archive_pct: number;
  max_archive_count: number;
  max_row_drop_pct: number;
  welcome_emails: boolean;
  notify_emails: string[];
  notify_on_success: boolean;
  stale_feed_hours: number | null;
  format: RosterFormat;
  column_mapping: unknown;
  oneroster_options: unknown;
  external_host: string | null;
  external_port: number | null;
  external_username: string | null;
  external_password_enc: string | null;
  external_key_enc: string | null;
  external_key_passphrase_enc: string | null;
  external_host_key: string | null;
  external_path: string | null;
  updated_at: Date;
}

// numeric(5,2) arrives as a string from pg; ::float8 makes it a number (two decimals are exact enough here).
const COLUMNS = `district_id, enabled, frequency, start_date::text AS start_date, time_of_day, source, file_rule, file_name,
  process_on_arrival, matching_key, coaching_groups, error_threshold_pct::float8 AS error_threshold_pct,
  max_archive_pct::float8 AS max_archive_pct, max_archive_count, max_row_drop_pct::float8 AS max_row_drop_pct,
  welcome_emails, notify_emails, notify_on_success, stale_feed_hours, external_host, external_port, external_username,
  external_password_enc, external_key_enc, external_key_passphrase_enc, external_host_key, external_path, format, column_mapping, oneroster_options, updated_at`;

function toRecord(row: Row): SyncConfigRecord {
  return {
    districtId: row.district_id,
    enabled: row.enabled,
    frequency: row.frequency,
    startDate: row.start_date,
    timeOfDay: row.time_of_day,
    source: row.source,
    fileRule: row.file_rule,
    fileName: row.file_name,
    processOnArrival: row.process_on_arrival,
    matchingKey: row.matching_key,
    coachingGroups: row.coaching_groups,
    errorThresholdPct: row.error_threshold_pct,
    maxArchivePct: row.max_archive_pct,
    maxArchiveCount: row.max_archive_count,
    maxRowDropPct: row.max_row_drop_pct,
    welcomeEmails: row.welcome_emails,
    notifyEmails: row.notify_emails,
    notifyOnSuccess: row.notify_on_success,
    staleFeedHours: row.stale_feed_hours,
    format: row.format,
    // Parsed on the way out too: a document saved by an older version gets today's defaults.
    columnMapping: row.column_mapping === null ? null : ColumnMapping.parse(row.column_mapping),
    oneRoster: OneRosterOptions.parse(row.oneroster_options),
    external:
      row.external_host === null
        ? null
        : {
            host: row.external_host,
            port: row.external_port ?? 22,
            username: row.external_username ?? '',
            hostKeyFingerprint: row.external_host_key ?? '',
            path: row.external_path,
          },
    externalPasswordEnc: row.external_password_enc,
    externalKeyEnc: row.external_key_enc,
    externalKeyPassphraseEnc: row.external_key_passphrase_enc,
    updatedAt: row.updated_at,
  };
}

/** The only code that speaks SQL about sync_configs: one row per district, replaced whole. */
export class SyncConfigsRepository {
  constructor(private readonly db: Queryable) {}

  async get(districtId: string): Promise<SyncConfigRecord | undefined> {
    const { rows } = await this.db.query<Row>(`SELECT ${COLUMNS} FROM sync_configs WHERE district_id = $1`, [
      districtId,
    ]);
    return rows[0] && toRecord(rows[0]);
  }

  /** The sync config of a run's district, with the district's slug (its hosted folder); undefined: none saved. */
  async forRun(runId: string): Promise<{ slug: string; config: SyncConfigRecord } | undefined> {
    const { rows } = await this.db.query<Row & { slug: string }>(
      `SELECT ${COLUMNS}, (SELECT d.slug FROM districts d WHERE d.id = sync_configs.district_id) AS slug
       FROM sync_configs WHERE district_id = (SELECT r.district_id FROM sync_runs r WHERE r.id = $1)`,
      [runId],
    );
    return rows[0] && { slug: rows[0].slug, config: toRecord(rows[0]) };
  }

  async upsert(districtId: string, config: SyncConfigWrite): Promise<SyncConfigRecord> {
    const ext = config.external;
    const values = [
      districtId,
      config.enabled,
      config.frequency,
      config.startDate,
      config.timeOfDay,
      config.source,
      config.fileRule,
      config.fileName,
      config.processOnArrival,
      config.matchingKey,
      config.coachingGroups,
      config.errorThresholdPct,
      config.maxArchivePct,
      config.maxArchiveCount,
      config.maxRowDropPct,
      config.welcomeEmails,
      config.notifyEmails,
      config.notifyOnSuccess,
      ext?.host ?? null,
      ext?.port ?? null,
      ext?.username ?? null,
      config.externalPasswordEnc,
      config.externalKeyEnc,
      ext?.hostKeyFingerprint ?? null,
      ext?.path ?? null,
      config.staleFeedHours,
      config.externalKeyPassphraseEnc,
      config.format,
      config.columnMapping === null ? null : JSON.stringify(config.columnMapping),
      JSON.stringify(config.oneRoster),
    ];
    const { rows } = await this.db.query<Row>(
      `INSERT INTO sync_configs (district_id, enabled, frequency, start_date, time_of_day, source, file_rule, file_name,
         process_on_arrival, matching_key, coaching_groups, error_threshold_pct, max_archive_pct, max_archive_count,
         max_row_drop_pct, welcome_emails, notify_emails, notify_on_success, external_host, external_port,
         external_username, external_password_enc, external_key_enc, external_host_key, external_path,
         stale_feed_hours, external_key_passphrase_enc, format, column_mapping, oneroster_options, updated_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22,
         $23, $24, $25, $26, $27, $28, $29, $30, now())
       ON CONFLICT (district_id) DO UPDATE SET enabled = EXCLUDED.enabled, frequency = EXCLUDED.frequency,
         start_date = EXCLUDED.start_date, time_of_day = EXCLUDED.time_of_day, source = EXCLUDED.source,
         file_rule = EXCLUDED.file_rule, file_name = EXCLUDED.file_name,
         process_on_arrival = EXCLUDED.process_on_arrival, matching_key = EXCLUDED.matching_key,
         coaching_groups = EXCLUDED.coaching_groups, error_threshold_pct = EXCLUDED.error_threshold_pct,
         max_archive_pct = EXCLUDED.max_archive_pct, max_archive_count = EXCLUDED.max_archive_count,
         max_row_drop_pct = EXCLUDED.max_row_drop_pct, welcome_emails = EXCLUDED.welcome_emails,
         notify_emails = EXCLUDED.notify_emails, notify_on_success = EXCLUDED.notify_on_success,
         external_host = EXCLUDED.external_host, external_port = EXCLUDED.external_port,
         external_username = EXCLUDED.external_username, external_password_enc = EXCLUDED.external_password_enc,
         external_key_enc = EXCLUDED.external_key_enc, external_host_key = EXCLUDED.external_host_key,
         external_path = EXCLUDED.external_path, stale_feed_hours = EXCLUDED.stale_feed_hours,
         external_key_passphrase_enc = EXCLUDED.external_key_passphrase_enc, format = EXCLUDED.format,
         column_mapping = EXCLUDED.column_mapping, oneroster_options = EXCLUDED.oneroster_options, updated_at = now()
       RETURNING ${COLUMNS}`,
      values,
    );
    return toRecord(rows[0]);
  }
}

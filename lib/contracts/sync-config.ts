import { z } from 'zod';

/**
 * The choices a district's sync config offers, one definition each for the API body, the stored
 * record, the CSV reader, the file picker and the workflows. Pure (zod only): workflows import it.
 * The schedule's frequency is ScheduleFrequency in ./schedule.
 */

/** Where the district's file comes from: our hosted SFTP server or the district's own. */
export const FileSource = z.enum(['hosted', 'external']);
export type FileSource = z.infer<typeof FileSource>;

/** Which file a run reads from the source (lib/files/pick-file.ts). */
export const FileRule = z.enum(['latest', 'specific_name', 'epoch', 'auto_suffix']);
export type FileRule = z.infer<typeof FileRule>;

/** The column that matches a file row to an existing user (lib/sync/matching-key.ts). */
export const MatchingKey = z.enum(['email', 'internal_id', 'accounting_id', 'clever_id', 'platform_id']);
export type MatchingKey = z.infer<typeof MatchingKey>;

/** Coaching groups the apply step keeps in step with users' Coach Email (lib/sync/coaching-groups.repository.ts). */
export const CoachingGroup = z.enum(['individual', 'school_teachers']);
export type CoachingGroup = z.infer<typeof CoachingGroup>;

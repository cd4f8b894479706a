import path from 'node:path';
import { type DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, APP_PIPE } from '@nestjs/core';
import { getOptionsToken, getStorageToken } from '@nestjs/throttler';
import type { Client } from '@temporalio/client';
import { ZodValidationPipe } from 'nestjs-zod';
import type { Pool } from 'pg';
import type { Env } from '../../lib/config/env';
import { ApiKeysRepository } from '../../lib/db/repositories/api-keys.repository';
import { DistrictsRepository } from '../../lib/db/repositories/districts.repository';
import { ManualRunsRepository } from '../../lib/db/repositories/manual-runs.repository';
import { OpenUploadsRepository } from '../../lib/db/repositories/open-uploads.repository';
import { RateLimitsRepository } from '../../lib/db/repositories/rate-limits.repository';
import { SchoolsRepository } from '../../lib/db/repositories/schools.repository';
import { SyncConfigsRepository } from '../../lib/db/repositories/sync-configs.repository';
import { SyncRunsRepository } from '../../lib/db/repositories/sync-runs.repository';
import { UsersRepository } from '../../lib/db/repositories/users.repository';
import { SftpAccountsRepository } from '../../lib/sftp-server/sftp-accounts.repository';
import { SftpHostKeysRepository } from '../../lib/sftp-server/sftp-host-keys.repository';
import { ArtifactStore } from '../../lib/storage/artifact-store';
import { RunReports } from '../../lib/sync/run-reports';
import { DistrictSyncClient } from '../../lib/temporal/district-sync.client';
import { AuditEventsRepository } from '../../lib/audit/audit-events.repository';
import { ApiKeysController } from './api-keys/api-keys.controller';
import { ApiKeysService } from './api-keys/api-keys.service';
import { AuditController } from './audit/audit.controller';
import { AuditTrail } from './audit/audit-trail.service';
import { RequestActorInterceptor } from './audit/request-actor';
import { ENV, EXPORTS_POOL, PG_POOL, TEMPORAL_CLIENT } from './api.tokens';
import { ApiErrorFilter } from './common/api-error.filter';
import { BearerAuthGuard } from './common/bearer-auth.guard';
import { DistrictSettingsService } from './districts/district-settings.service';
import { DistrictsController } from './districts/districts.controller';
import { DistrictsService } from './districts/districts.service';
import { HealthController } from './health/health.controller';
import { ApiRateLimitGuard, apiRateLimits } from './rate-limits/api-rate-limit.guard';
import { PostgresThrottlerStorage } from './rate-limits/postgres-throttler.storage';
import { ReferenceController } from './reference/reference.controller';
import { ReportDownloads } from './runs/report-downloads.service';
import { RunsController } from './runs/runs.controller';
import { RunsService } from './runs/runs.service';
import { SchoolsController } from './schools/schools.controller';
import { SchoolsService } from './schools/schools.service';
import { SftpCredentialsController } from './sftp-credentials/sftp-credentials.controller';
import { SftpCredentialsService } from './sftp-credentials/sftp-credentials.service';
import { ConnectionTestService } from './sync-config/connection-test.service';
import { SyncConfigController } from './sync-config/sync-config.controller';
import { SyncConfigService } from './sync-config/sync-config.service';
import { UsersController } from './users/users.controller';
import { UsersService } from './users/users.service';

export interface ApiDeps {
  env: Readonly<Env>;
  pool: Pool;
  /**
   * Report downloads only (see ReportDownloads), API_EXPORT_CONNECTIONS connections. main.ts always
   * gives one; tests that download no reports may leave it out and share `pool`.
   */
  exportsPool?: Pool;
  /**
   * Rate limit counters only (see ApiRateLimitGuard), a few connections with a short connect
   * timeout. main.ts always gives one; tests may leave it out and share `pool`.
   */
  limitsPool?: Pool;
  temporalClient: Client;
}

/** Repositories take the pool; everything that talks to the outside world is built once here. */
const onPool = <T>(Repo: new (pool: Pool) => T) => ({
  provide: Repo,
  useFactory: (pool: Pool): T => new Repo(pool),
  inject: [PG_POOL],
});

@Module({})
export class ApiModule {
  static forRoot(deps: ApiDeps): DynamicModule {
    return {
      module: ApiModule,
      controllers: [
        HealthController,
        DistrictsController,
        SchoolsController,
        SyncConfigController,
        SftpCredentialsController,
        RunsController,
        UsersController,
        ApiKeysController,
        AuditController,
        ReferenceController,
      ],
      providers: [
        { provide: ENV, useValue: deps.env },
        { provide: PG_POOL, useValue: deps.pool },
        { provide: EXPORTS_POOL, useValue: deps.exportsPool ?? deps.pool },
        { provide: TEMPORAL_CLIENT, useValue: deps.temporalClient },
        onPool(DistrictsRepository),
        onPool(SchoolsRepository),
        onPool(SyncConfigsRepository),
        onPool(SyncRunsRepository),
        onPool(UsersRepository),
        onPool(SftpAccountsRepository),
        onPool(SftpHostKeysRepository),
        onPool(ApiKeysRepository),
        onPool(ManualRunsRepository),
        onPool(OpenUploadsRepository),
        onPool(AuditEventsRepository),
        {
          provide: getStorageToken(),
          useFactory: () =>
            new PostgresThrottlerStorage(new RateLimitsRepository(deps.limitsPool ?? deps.pool)),
        },
        { provide: getOptionsToken(), useFactory: apiRateLimits, inject: [ENV] },
        {
          provide: ArtifactStore,
          useFactory: (env: Readonly<Env>) => new ArtifactStore(path.join(env.DATA_DIR, 'artifacts')),
          inject: [ENV],
        },
        {
          provide: RunReports,
          useFactory: (pool: Pool, artifacts: ArtifactStore) => new RunReports(pool, artifacts),
          inject: [PG_POOL, ArtifactStore],
        },
        {
          provide: DistrictSyncClient,
          useFactory: (client: Client, env: Readonly<Env>) =>
            new DistrictSyncClient(client, env.TEMPORAL_TASK_QUEUE, {
              catchUpWindowHours: env.CATCH_UP_WINDOW_HOURS,
            }),
          inject: [TEMPORAL_CLIENT, ENV],
        },
        DistrictsService,
        DistrictSettingsService,
        SchoolsService,
        UsersService,
        SyncConfigService,
        ConnectionTestService,
        SftpCredentialsService,
        RunsService,
        ReportDownloads,
        ApiKeysService,
        AuditTrail,
        // Rate limits first: they must hold before authentication costs a lookup.
        { provide: APP_GUARD, useClass: ApiRateLimitGuard },
        { provide: APP_GUARD, useClass: BearerAuthGuard },
        { provide: APP_INTERCEPTOR, useClass: RequestActorInterceptor },
        { provide: APP_PIPE, useClass: ZodValidationPipe },
        { provide: APP_FILTER, useClass: ApiErrorFilter },
      ],
    };
  }
}

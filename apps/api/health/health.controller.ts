import type { ServerResponse } from 'node:http';
import { Controller, Get, Inject, Res } from '@nestjs/common';
import { ApiTags, ApiOperation } from '@nestjs/swagger';
import type { Client } from '@temporalio/client';
import type { Pool } from 'pg';
import { PG_POOL, TEMPORAL_CLIENT } from '../api.tokens';
import { Public } from '../common/public.decorator';

export interface Health {
  ok: boolean;
  database: 'up' | 'down';
  temporal: 'up' | 'down';
}

const CHECK_TIMEOUT_MS = 3000;

async function probe(check: () => Promise<unknown>): Promise<'up' | 'down'> {
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('timeout')), CHECK_TIMEOUT_MS);
      }),
    ]);
    return 'up';
  } catch {
    return 'down';
  } finally {
    clearTimeout(timer);
  }
}

/** Unauthenticated liveness for load balancers: 200 when Postgres and Temporal answer, 503 otherwise. */
@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    @Inject(PG_POOL) private readonly pool: Pool,
    @Inject(TEMPORAL_CLIENT) private readonly temporal: Client,
  ) {}

  @ApiOperation({ summary: 'Liveness: Postgres and Temporal reachable (no token needed)' })
  @Public()
  @Get()
  async health(@Res({ passthrough: true }) res: ServerResponse): Promise<Health> {
    const [database, temporal] = await Promise.all([
      probe(() => this.pool.query('SELECT 1')),
      probe(() => this.temporal.workflowService.getSystemInfo({})),
    ]);
    const ok = database === 'up' && temporal === 'up';
    res.statusCode = ok ? 200 : 503;
    return { ok, database, temporal };
  }
}

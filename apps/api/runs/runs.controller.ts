import type { IncomingMessage, ServerResponse } from 'node:http';
import { pipeline } from 'node:stream/promises';
import { applyDecorators, Body, Controller, Get, HttpCode, Post, Query, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiProduces, ApiTags, ApiOperation } from '@nestjs/swagger';
import { credentialOf } from '../common/bearer-token';
import { DistrictKeys } from '../common/district-key-access.decorator';
import { PageQueryDto } from '../common/paging.dto';
import { DistrictIdParam, RunIdParam } from '../common/path-params';
import { attachment } from './content-disposition';
import { disconnectWhenStalled, ReportDownloads } from './report-downloads.service';
import type { RunView } from './run-view';
import { SyncNowDto } from './runs.dto';
import { type RunDetail, RunsService, type StartedRun, type SyncStatusView } from './runs.service';

/** A POST that hands work to the district's schedule and answers 202 Accepted. */
const QueuesWork = (path: string, summary: string): MethodDecorator =>
  applyDecorators(ApiOperation({ summary }), Post(path), HttpCode(202));

/** What a review decision answers. */
type ReviewDecision = { runId: string; decision: string };

@ApiTags('runs')
@ApiBearerAuth()
@DistrictKeys('own-district')
@Controller('districts/:id')
export class RunsController {
  constructor(
    private readonly service: RunsService,
    private readonly downloads: ReportDownloads,
  ) {}

  @QueuesWork('sync-now', 'Queue a run now (dryRun: plan only); 409 without a sync config')
  async syncNow(@DistrictIdParam() id: string, @Body() body: SyncNowDto): Promise<StartedRun> {
    return await this.service.syncNow(id, body.dryRun);
  }

  @ApiOperation({
    summary: "The district workflow's status: next run, in-flight, queued, held, last outcome",
  })
  @Get('sync-status')
  async status(@DistrictIdParam() id: string): Promise<SyncStatusView> {
    return await this.service.status(id);
  }

  @ApiOperation({ summary: 'Run history, newest first' })
  @Get('runs')
  async list(
    @DistrictIdParam() id: string,
    @Query() page: PageQueryDto,
  ): Promise<{ total: number; runs: RunView[] }> {
    return await this.service.list(id, page);
  }

  @ApiOperation({ summary: 'One run: counts, timings, file, failure, plan samples, errors by code' })
  @Get('runs/:runId')
  async detail(@DistrictIdParam() id: string, @RunIdParam() runId: string): Promise<RunDetail> {
    return await this.service.detail(id, runId);
  }

  @QueuesWork('runs/:runId/approve', 'Apply a run held by a safeguard (409 unless held)')
  async approve(@DistrictIdParam() id: string, @RunIdParam() runId: string): Promise<ReviewDecision> {
    return await this.service.review(id, runId, true);
  }

  @QueuesWork('runs/:runId/discard', 'Discard a run held by a safeguard (409 unless held)')
  async discard(@DistrictIdParam() id: string, @RunIdParam() runId: string): Promise<ReviewDecision> {
    return await this.service.review(id, runId, false);
  }

  @QueuesWork('runs/:runId/retry', 'Retry a failed run as a new run (409 unless failed)')
  async retry(@DistrictIdParam() id: string, @RunIdParam() runId: string): Promise<StartedRun> {
    return await this.service.retry(id, runId);
  }

  // Downloads stream straight from disk / Postgres to the socket; nothing is held in memory. The
  // reports stream from their own pool, a few at a time per credential (ReportDownloads).
  @ApiOperation({ summary: "Download the run's original file" })
  @Get('runs/:runId/file')
  @ApiProduces('application/octet-stream')
  async file(
    @DistrictIdParam() id: string,
    @RunIdParam() runId: string,
    @Res() res: ServerResponse,
  ): Promise<void> {
    const file = await this.service.original(id, runId);
    res.statusCode = 200;
    res.setHeader('Content-Type', 'application/octet-stream');
    res.setHeader('Content-Length', String(file.size));
    res.setHeader('Content-Disposition', attachment(file.name));
    disconnectWhenStalled(res, this.downloads.sendTimeoutSeconds);
    await pipeline(file.stream, res);
  }

  @ApiOperation({ summary: "Download the run's errors and warnings as CSV" })
  @Get('runs/:runId/errors.csv')
  @ApiProduces('text/csv')
  async errorsCsv(
    @DistrictIdParam() id: string,
    @RunIdParam() runId: string,
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
  ): Promise<void> {
    await this.sendCsv(id, runId, 'errors', req, res);
  }

  @ApiOperation({ summary: "Download the run's planned changes as CSV" })
  @Get('runs/:runId/plan.csv')
  @ApiProduces('text/csv')
  async planCsv(
    @DistrictIdParam() id: string,
    @RunIdParam() runId: string,
    @Req() req: IncomingMessage,
    @Res() res: ServerResponse,
  ): Promise<void> {
    await this.sendCsv(id, runId, 'plan', req, res);
  }

  /** Streams the run's `report` as `run-<runId>-<report>.csv` on a download slot (ReportDownloads). */
  private async sendCsv(
    id: string,
    runId: string,
    report: 'errors' | 'plan',
    req: IncomingMessage,
    res: ServerResponse,
  ): Promise<void> {
    await this.service.requireRun(id, runId);
    await this.downloads.send(
      credentialOf(req),
      id,
      res,
      () => startCsv(res, `run-${runId}-${report}.csv`),
      (reports, client) =>
        report === 'errors'
          ? reports.writeErrorsCsv(runId, res, client)
          : reports.writePlanCsv(runId, res, client),
    );
  }
}

function startCsv(res: ServerResponse, name: string): void {
  res.statusCode = 200;
  res.setHeader('Content-Type', 'text/csv; charset=utf-8');
  res.setHeader('Content-Disposition', attachment(name));
  res.setHeader('Cache-Control', 'no-store');
}

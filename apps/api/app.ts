import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import helmet from 'helmet';
import { cleanupOpenApiDoc } from 'nestjs-zod';
import { parseSecretKey } from '../../lib/crypto/secret-box';
import { type ApiDeps, ApiModule } from './api.module';
import { JSON_BODY_LIMIT_BYTES } from './common/body-limit';
import { PinoLoggerService } from './common/pino-logger.service';
import { requestLog } from './common/request-log.middleware';

/**
 * Builds the REST API around connections the caller owns (main.ts in production, tests with their own
 * database and Temporal server). Returns an initialised app: call listen() to serve, or hand
 * getHttpServer() to supertest.
 */
export async function createApiApp(deps: ApiDeps): Promise<INestApplication> {
  // A SECRET_KEY that cannot encrypt must stop the boot, not the first config save.
  parseSecretKey(deps.env.SECRET_KEY);
  const app = await NestFactory.create<NestExpressApplication>(ApiModule.forRoot(deps), {
    logger: new PinoLoggerService(deps.env.LOG_LEVEL),
    abortOnError: false,
    // Only JSON is parsed, with an explicit limit (413 beyond); other bodies are never read.
    bodyParser: false,
  });
  app.disable('x-powered-by');
  // The client address the per-address rate limit counts by (req.ip).
  if (deps.env.API_TRUST_PROXY_HOPS > 0) app.set('trust proxy', deps.env.API_TRUST_PROXY_HOPS);
  app.use(helmet());
  app.useBodyParser('json', { limit: JSON_BODY_LIMIT_BYTES });
  app.use(requestLog);
  if (deps.env.API_DOCS) serveDocs(app);

  await app.init();
  return app;
}

/** Swagger UI at /docs and the OpenAPI document at /docs-json (API_DOCS). */
function serveDocs(app: INestApplication): void {
  const config = new DocumentBuilder()
    .setTitle('rostersync API')
    .setDescription(
      'Districts, sync configs, hosted SFTP credentials, Sync Now and run history. ' +
        'Every call except GET /health needs `Authorization: Bearer <credential>`: the operator token ' +
        "API_TOKEN reaches every route; a district API key (rsk_...) only its own district's routes " +
        '(/districts/<its id>/...; another district is 404, any other route 403) and the reference routes.',
    )
    .setVersion('1')
    .addBearerAuth()
    .build();
  SwaggerModule.setup('docs', app, () => cleanupOpenApiDoc(SwaggerModule.createDocument(app, config)), {
    jsonDocumentUrl: 'docs-json',
  });
}

import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'rostersync:isPublic';

/** Marks a route that needs no bearer token (only the health check). */
export const Public = (): MethodDecorator & ClassDecorator => SetMetadata(IS_PUBLIC, true);

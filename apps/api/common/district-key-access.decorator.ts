import { SetMetadata } from '@nestjs/common';

export const DISTRICT_KEY_ACCESS = 'rostersync:districtKeyAccess';

/**
 * Which routes a district API key may call; a route without this decorator is for the operator
 * token (API_TOKEN) only, so a new route is closed to district keys until someone opens it.
 * - `own-district`: the route's `:id` is a district; only that district's keys may call it.
 * - `reference`: the same for every district (error codes, the blank template).
 */
export type DistrictKeyAccess = 'own-district' | 'reference';

export const DistrictKeys = (access: DistrictKeyAccess): MethodDecorator & ClassDecorator =>
  SetMetadata(DISTRICT_KEY_ACCESS, access);

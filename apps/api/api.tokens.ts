/** Injection tokens for the API's external dependencies, built once in createApiApp. */
export const ENV = Symbol('ENV');
export const PG_POOL = Symbol('PG_POOL');
export const TEMPORAL_CLIENT = Symbol('TEMPORAL_CLIENT');
/** The small pool report downloads stream from, apart from the one requests use. */
export const EXPORTS_POOL = Symbol('EXPORTS_POOL');

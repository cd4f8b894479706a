import { Param } from '@nestjs/common';
import { UuidParamPipe } from './uuid-param.pipe';

/** The `:id` of a `districts/:id/...` route, lower-cased; a value that is not a UUID is a 400. */
export const DistrictIdParam = (): ParameterDecorator => Param('id', UuidParamPipe);

/** The `:runId` of a run's route, checked the same way. */
export const RunIdParam = (): ParameterDecorator => Param('runId', UuidParamPipe);

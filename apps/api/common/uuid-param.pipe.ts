import { BadRequestException, Injectable, type PipeTransform, type ArgumentMetadata } from '@nestjs/common';
import { isUuid } from '../../../lib/contracts/uuid';

/** Path ids are uuids; anything else is answered before it reaches SQL. */
@Injectable()
export class UuidParamPipe implements PipeTransform<string, string> {
  transform(value: string, metadata: ArgumentMetadata): string {
    if (typeof value === 'string' && isUuid(value)) return value.toLowerCase();
    const shown = String(value).slice(0, 40);
    throw new BadRequestException(
      `${metadata.data ?? 'id'} must be a UUID such as 3f2504e0-4f89-41d3-9a0c-0305e82c3301; got "${shown}".`,
    );
  }
}

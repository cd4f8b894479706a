import { createZodDto } from 'nestjs-zod';
import { z } from 'zod';

export const AddPublicKeyBody = z
  .object({
    publicKey: z
      .string()
      .trim()
      .min(1, 'publicKey must be one OpenSSH public key line, e.g. "ssh-ed25519 AAAAC3Nza... you@host"')
      .max(
        16_384,
        'publicKey is too long: paste a single public key line (the .pub file), not a private key',
      ),
  })
  .strict();
export class AddPublicKeyDto extends createZodDto(AddPublicKeyBody) {}

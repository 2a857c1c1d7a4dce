// An upstream as added or changed at run time (the admin API's body, kept with the live upstream list in
// upstream-sources.ts): the config file's upstream keys, a CA as PEM text instead of a path, and `enabled`.
import { z } from 'zod';
import { upstreamSchema } from '../config/schema.js';

/** What the API accepts: the config file's upstream fields, a CA as PEM text instead of a path, and `enabled`. */
export const upstreamInput = upstreamSchema
  .omit({ ca: true, auth: true })
  .extend({
    // `signatures` as in the config file (docs/signatures.md); keys as PEM text, or on an edit the fingerprint
    // (`sha256:…`) of a key the upstream has: upstream/upstream-signatures.ts.
    auth: z
      .strictObject({
        mode: z.enum(['mirror', 'passthrough']).default('mirror'),
        username: z.string().min(1).optional(),
        /** Write-only. Omitted on an edit: the stored password is kept. `null` removes it. */
        password: z.string().min(1).nullable().optional(),
      })
      .prefault({}),
    /** PEM text of an extra CA bundle for this upstream. */
    caPem: z.string().includes('-----BEGIN CERTIFICATE-----', { message: 'expected PEM certificates' }).max(1_000_000).nullable().optional(),
    enabled: z.boolean().default(true),
    /**
     * Write-only, as the password: its path, query or user-info can carry the hook's secret (docs/watch.md).
     * Omitted on an edit: the stored webhook is kept. `null` removes it.
     */
    watchWebhook: upstreamSchema.shape.watchWebhook.unwrap().nullable().optional(),
  });
export type UpstreamInput = z.input<typeof upstreamInput>;

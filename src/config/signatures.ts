// The `signatures` block of an upstream (docs/signatures.md): its schema, and its resolution at load time (key
// files read, the trusted root's path made absolute, every key parsed) so that a bad key is a config error at
// start, never a failing pull.
import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { z } from 'zod';
import { loadPublicKey, SignaturePolicyError } from '../signature/requirement.js';
import type { SignaturePolicyConfig } from '../signature/signature-policy.js';
import { loadTrustedRoot, TrustedRootError } from '../signature/trusted-root.js';

const repositoryGlob = z.string().regex(/^[a-z0-9*]+(?:(?:[._/-]|__|-+)[a-z0-9*]+)*$/, 'expected a repository glob such as library/* or team/app');

const regExp = z.string().refine((s) => {
  try {
    new RegExp(s);
    return true;
  } catch {
    return false;
  }
}, 'expected a regular expression');

const identity = z
  .strictObject({ issuer: z.string().min(1).optional(), issuerRegExp: regExp.optional(), subject: z.string().min(1).optional(), subjectRegExp: regExp.optional() })
  .refine((i) => i.issuer !== undefined || i.issuerRegExp !== undefined, { message: 'an identity needs issuer or issuerRegExp' })
  .refine((i) => i.subject !== undefined || i.subjectRegExp !== undefined, { message: 'an identity needs subject or subjectRegExp' });

const requirement = z
  .strictObject({
    /** Repository globs as on the upstream, as in `policy.allow`. */
    repositories: z.array(repositoryGlob).min(1),
    /** PEM public keys, inline or as file paths (relative to the config file). */
    keys: z.array(z.string().min(1)).default([]),
    /** Keyless signers: certificate issuer and subject, exact or regular expression. */
    identities: z.array(identity).default([]),
    /** Distinct signers that must match. */
    threshold: z.int().min(1).max(16).default(1),
    /** enforce: refuse; audit: serve, log and count. */
    mode: z.enum(['enforce', 'audit']).default('enforce'),
  })
  .refine((r) => r.keys.length > 0 || r.identities.length > 0, { message: 'a requirement needs keys or identities' });

export const signaturesSchema = z.strictObject({
  /** A Sigstore trusted root JSON file for keyless signatures; Sigstore's public-good root when absent. */
  trustedRoot: z.string().min(1).optional(),
  require: z.array(requirement).min(1),
});

export type ParsedSignatures = z.output<typeof signaturesSchema>;

const isPem = (s: string): boolean => s.trimStart().startsWith('-----BEGIN');

/** Reads key files, parses every key and the trusted root; throws a list of problems naming the fields. */
export async function resolveSignatures(s: ParsedSignatures, baseDir: string, field: string): Promise<SignaturePolicyConfig> {
  const problems: string[] = [];
  const require = await Promise.all(
    s.require.map(async (r, i) => {
      const keys = await Promise.all(
        r.keys.map(async (k, j) => {
          const where = `${field}.require[${i}].keys[${j}]`;
          let pem = k;
          if (!isPem(k)) {
            try {
              pem = await readFile(resolve(baseDir, k), 'utf8');
            } catch (err) {
              problems.push(`${where}: cannot read ${resolve(baseDir, k)}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
              return k;
            }
          }
          try {
            loadPublicKey(pem);
          } catch (err) {
            if (!(err instanceof SignaturePolicyError)) throw err;
            problems.push(`${where}: ${err.message}`);
          }
          return pem;
        }),
      );
      return { repositories: r.repositories, keys, identities: r.identities, threshold: r.threshold, mode: r.mode };
    }),
  );
  const trustedRoot = s.trustedRoot === undefined ? undefined : resolve(baseDir, s.trustedRoot);
  if (trustedRoot !== undefined || require.some((r) => r.identities.length > 0)) {
    try {
      loadTrustedRoot(trustedRoot);
    } catch (err) {
      if (!(err instanceof TrustedRootError) && !(err as NodeJS.ErrnoException).code) throw err;
      problems.push(`${field}.trustedRoot: ${(err as Error).message}`);
    }
  }
  if (problems.length > 0) throw new SignatureConfigError(problems);
  return { ...(trustedRoot !== undefined ? { trustedRoot } : {}), require };
}

/**
 * A policy given through the admin API (docs/signatures.md): the config file's schema, with every key as PEM text
 * (a file path would have the admin read the server's files) and no `trustedRoot` file (keyless signatures are then
 * checked against Sigstore's public-good root). Every problem names its field (`signatures.require.0.keys.1`).
 */
export function inlineSignatures(s: ParsedSignatures, field = 'signatures'): { policy: SignaturePolicyConfig; problems: { path: string; message: string }[] } {
  const problems: { path: string; message: string }[] = [];
  if (s.trustedRoot !== undefined) {
    problems.push({ path: `${field}.trustedRoot`, message: 'a private trusted root is a file: set it in the config file (keyless signatures are checked against the public-good root here)' });
  }
  s.require.forEach((r, i) =>
    r.keys.forEach((k, j) => {
      const path = `${field}.require.${i}.keys.${j}`;
      if (!isPem(k)) return void problems.push({ path, message: 'expected a public key as PEM text (-----BEGIN PUBLIC KEY-----)' });
      try {
        loadPublicKey(k);
      } catch (err) {
        if (!(err instanceof SignaturePolicyError)) throw err;
        problems.push({ path, message: err.message });
      }
    }),
  );
  const require = s.require.map((r) => ({ repositories: r.repositories, keys: r.keys, identities: r.identities, threshold: r.threshold, mode: r.mode }));
  return { policy: { require }, problems };
}

export class SignatureConfigError extends Error {
  readonly code = 'CONFIG_INVALID';
  constructor(readonly problems: string[]) {
    super(problems.join('; '));
  }
}

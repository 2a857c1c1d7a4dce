// Reading Node's errno codes off unknown errors, so that expected absence can become `undefined`.

export function errnoCode(err: unknown): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const code = (err as NodeJS.ErrnoException).code;
  return typeof code === 'string' ? code : undefined;
}

export function isNotFound(err: unknown): boolean {
  return errnoCode(err) === 'ENOENT';
}

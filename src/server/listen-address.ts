// `host:port`, `[::1]:port`, `:port` or `port` -> what net.Server.listen takes. No host means all interfaces.
export function parseListenAddress(value: string): { host: string; port: number } {
  const m = /^(?:(\[[^\]]+\]|[^:]*):)?(\d{1,5})$/.exec(value);
  if (!m) throw new Error(`invalid listen address ${value}`);
  const host = m[1] ? m[1].replace(/^\[|\]$/g, '') : '0.0.0.0';
  const port = Number(m[2]);
  if (port > 65535) throw new Error(`invalid listen address ${value}`);
  return { host, port };
}

// Host-name shapes accepted in config. Registry names follow the reference grammar's domain part.
const label = '(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])';
const hostname = new RegExp(`^${label}(?:\\.${label})*$`);
const registryHost = new RegExp(`^${label}(?:\\.${label})*(?::\\d{1,5})?$`);

export function isHostname(value: string): boolean {
  return value.length <= 253 && hostname.test(value) && value === value.toLowerCase();
}

export function isRegistryHost(value: string): boolean {
  return value.length <= 253 && registryHost.test(value) && value === value.toLowerCase();
}

/** The Host header without its port, lower-cased: `Gcr.Mirror.Test:5443` -> `gcr.mirror.test`. */
export function hostWithoutPort(host: string): string {
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.lastIndexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}

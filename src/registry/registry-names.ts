// Registry host names. Docker Hub answers to several; clients and configs use them interchangeably, so every
// comparison goes through canonicalRegistry.
const hubAliases = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

export function canonicalRegistry(name: string): string {
  const lower = name.toLowerCase();
  return hubAliases.has(lower) ? 'docker.io' : lower;
}

export function isDockerHubRegistry(name: string): boolean {
  return hubAliases.has(name.toLowerCase());
}

/** Every name a registry is known by: all of Docker Hub's aliases for Hub, else just the name. */
export function registryAliases(name: string): string[] {
  return isDockerHubRegistry(name) ? [...hubAliases] : [name.toLowerCase()];
}

// The upstreams a mirror started without a config file knows. Docker Hub is the default (mirror root).
import type { UpstreamInput } from './schema.js';

export const builtinUpstreams: UpstreamInput[] = [
  { name: 'hub', registry: 'docker.io', url: 'https://registry-1.docker.io', default: true },
  { name: 'gcr', registry: 'gcr.io', url: 'https://gcr.io' },
  { name: 'quay', registry: 'quay.io', url: 'https://quay.io' },
  { name: 'ghcr', registry: 'ghcr.io', url: 'https://ghcr.io' },
  { name: 'k8s', registry: 'registry.k8s.io', url: 'https://registry.k8s.io' },
  { name: 'ecr-public', registry: 'public.ecr.aws', url: 'https://public.ecr.aws' },
  { name: 'mcr', registry: 'mcr.microsoft.com', url: 'https://mcr.microsoft.com' },
];

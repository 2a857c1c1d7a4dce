// Whether a registry request may proceed, and as whom, decided here for every route of the registry API: the
// client's address, its login, its request rate, the repository policy, its blob transfer slot, and which of its
// credentials may travel upstream. The rules themselves live in src/access/ (docs/security.md); without access
// control everyone may pull everything and nothing is counted.
import type { FastifyRequest } from 'fastify';
import type { AccessControl, ClientRequest } from '../../access/access-control.js';
import { TransferSlot } from '../../access/transfer-slot.js';
import { RegistryError } from '../../registry/errors.js';
import { forwardableAuthorization } from '../../upstream/client-credentials.js';
import type { Route } from '../../upstream/router.js';
import type { Upstream } from '../../upstream/upstream.js';
import type { RepositoryRoute } from './resource.js';

/** Where admission writes down what it learns as it goes, so a refusal is logged with the client it refused. */
export interface AdmissionRecord {
  /** The client as the access line names it: the logged-in user, else the address the rules were applied to. */
  identify(client: string): void;
  /** A blob transfer slot the request now holds, given back when the request is over. */
  holdTransfer(slot: TransferSlot): void;
}

/** Credentials presented to the mirror's own token endpoint. */
export type LoginCredentials = { username: string; password: string } | { authorization: string | undefined };

export class Admission {
  constructor(private readonly access: AccessControl | undefined) {}

  /** Whether a user name is one of the mirror's own users (their credentials never reach a passthrough upstream). */
  readonly isMirrorUser = (name: string): boolean => this.access?.users.exists(name) ?? false;

  /** `/v2/`: the rules of the upstream answering it, else the global ones. */
  async base(req: FastifyRequest, upstream: Upstream | undefined, origin: string, record: AdmissionRecord): Promise<void> {
    const admitted = await this.access?.admit(client(req), upstream?.config, origin);
    if (admitted) record.identify(admitted.user ?? admitted.address);
  }

  /**
   * A manifest, blob, tag list or referrers request, once routed: the upstream's address rules, login and rate,
   * then the repository policy (a digest request is judged by its repository), then for a blob GET a transfer
   * slot. Returns the Authorization to forward upstream (passthrough mode only).
   */
  async repository(req: FastifyRequest, resolved: Route, route: RepositoryRoute, origin: string, record: AdmissionRecord): Promise<string | undefined> {
    const upstream = resolved.upstream;
    const admitted = await this.access?.admit(client(req), upstream.config, origin);
    if (admitted) record.identify(admitted.user ?? admitted.address);
    const tag = route.kind === 'manifest' && route.reference.kind === 'tag' ? route.reference.tag : undefined;
    this.access?.checkPolicy(upstream.config, resolved.repository, tag);
    if (admitted && route.kind === 'blob' && req.method === 'GET') record.holdTransfer(this.transferSlot(admitted.key));
    return upstream.mode === 'passthrough' ? forwardableAuthorization(req.headers.authorization, this.isMirrorUser) : undefined;
  }

  /**
   * `/token/<upstream>`, relayed to a passthrough upstream's token service: the upstream's address rules and the
   * client's rate. The client's credentials there are the upstream's to judge, so no login is asked for.
   */
  async tokenRelay(req: FastifyRequest, upstream: Upstream, origin: string): Promise<void> {
    await this.access?.admit({ ...client(req), authorization: undefined }, upstream.config, origin);
  }

  /**
   * The mirror's own token endpoint: the global address rules and the client's rate before any credential is read
   * (`credentials` runs only then), then the credentials, with password guesses limited (docs/security.md).
   * Returns the client's address and the user the credentials name, if they are right.
   */
  async tokenUser(req: FastifyRequest, credentials: () => LoginCredentials): Promise<{ address: string; user: string | undefined }> {
    const access = this.access;
    if (!access) throw new RegistryError('NOT_FOUND', 'no token endpoint here');
    const { address } = access.admitTokenRequest(client(req));
    const c = credentials();
    const user = 'username' in c ? await access.checkPassword(address, c.username, c.password) : await access.basicUser(c.authorization, address);
    return { address, user };
  }

  private transferSlot(key: string): TransferSlot {
    const limits = this.access?.limits;
    if (!limits?.startTransfer(key)) {
      throw new RegistryError('TOOMANYREQUESTS', 'too many transfers at once from this client; retry when one has finished', { headers: { 'retry-after': '1' } });
    }
    return new TransferSlot(() => limits.endTransfer(key));
  }
}

function client(req: FastifyRequest): ClientRequest {
  return { peer: req.socket.remoteAddress, forwardedFor: req.headers['x-forwarded-for'], authorization: req.headers.authorization };
}

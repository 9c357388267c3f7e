/** Hashing a layer's raw bytes as they stream and checking them against the expected digest. */
import { createHash, type Hash } from 'node:crypto';
import { PalisadeError } from '@palisade/core';

const ALGORITHMS: Record<string, { node: string; hexLength: number }> = {
  sha256: { node: 'sha256', hexLength: 64 },
  sha512: { node: 'sha512', hexLength: 128 },
};

export class DigestVerifier {
  private readonly hash: Hash;
  private readonly algorithm: string;

  private constructor(
    algorithm: string,
    private readonly expected: string,
    private readonly subject: string,
  ) {
    this.algorithm = algorithm;
    this.hash = createHash((ALGORITHMS[algorithm] as { node: string }).node);
  }

  /** A verifier for `expected` ("sha256:<hex>" or "sha512:<hex>"), or undefined when none is expected. */
  static create(expected: string | undefined, subject: string): DigestVerifier | undefined {
    if (expected === undefined) return undefined;
    const colon = expected.indexOf(':');
    const algorithm = colon > 0 ? expected.slice(0, colon) : '';
    const spec = ALGORITHMS[algorithm];
    if (spec === undefined) {
      throw new PalisadeError('E_UNSUPPORTED', `unsupported digest algorithm in "${expected}"`, { subject });
    }
    const hex = expected.slice(colon + 1);
    if (hex.length !== spec.hexLength || !/^[0-9a-f]+$/.test(hex)) {
      throw new PalisadeError('E_INPUT', `malformed digest "${expected}"`, { subject });
    }
    return new DigestVerifier(algorithm, expected, subject);
  }

  update(chunk: Buffer): void {
    this.hash.update(chunk);
  }

  /** The digest of everything hashed, as "<alg>:<hex>". Call once. */
  digest(): string {
    return `${this.algorithm}:${this.hash.digest('hex')}`;
  }

  /** Returns the mismatch error, or undefined when the bytes match. */
  mismatch(): PalisadeError | undefined {
    const got = this.digest();
    if (got === this.expected) return undefined;
    return new PalisadeError('E_DIGEST', `digest mismatch: expected ${this.expected}, got ${got}`, {
      subject: this.subject,
    });
  }
}

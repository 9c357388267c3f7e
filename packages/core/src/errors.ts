/**
 * Errors that Palisade reports to people. Every failure that can reach a user is a
 * PalisadeError: a stable code, a one-line message that names the input at fault
 * (image, layer, file, field) and what is wrong with it. Stack traces stay internal.
 */
export type ErrorCode =
  | 'E_INPUT' // a user-supplied argument or file is invalid
  | 'E_CONFIG' // configuration is invalid
  | 'E_AUTH' // credentials missing or refused
  | 'E_NOT_FOUND' // image, tag, blob or file does not exist
  | 'E_REGISTRY' // registry answered with an error or broke the protocol
  | 'E_NETWORK' // connection failed, reset or timed out
  | 'E_TIMEOUT' // an operation exceeded its time budget
  | 'E_DIGEST' // content does not match its digest
  | 'E_CORRUPT' // an archive, layer or database is malformed
  | 'E_UNSAFE_PATH' // an archive entry tries to escape its root
  | 'E_TOO_LARGE' // an input exceeds a configured limit
  | 'E_PLATFORM' // no manifest for the requested platform
  | 'E_DB' // vulnerability database missing, stale or unreadable
  | 'E_UNSUPPORTED' // a format or media type Palisade does not handle
  | 'E_INTERNAL'; // a bug: should never be seen

export interface PalisadeErrorOptions {
  /** What the error is about: an image ref, a layer digest, a file path. */
  subject?: string;
  cause?: unknown;
}

export class PalisadeError extends Error {
  readonly code: ErrorCode;
  readonly subject: string | undefined;

  constructor(code: ErrorCode, message: string, options: PalisadeErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'PalisadeError';
    this.code = code;
    this.subject = options.subject;
  }

  /** The one line shown to a person: "<subject>: <message>". */
  describe(): string {
    return this.subject ? `${this.subject}: ${this.message}` : this.message;
  }
}

export function isPalisadeError(err: unknown): err is PalisadeError {
  return err instanceof PalisadeError;
}

/** Wrap an unknown error, keeping a PalisadeError as it is. */
export function toPalisadeError(err: unknown, fallbackCode: ErrorCode = 'E_INTERNAL', subject?: string): PalisadeError {
  if (err instanceof PalisadeError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new PalisadeError(fallbackCode, message, { subject, cause: err });
}

/** Prefix the subject of an error with more context, e.g. the image that owns a layer. */
export function withSubject(err: unknown, subject: string, fallbackCode: ErrorCode = 'E_INTERNAL'): PalisadeError {
  const e = toPalisadeError(err, fallbackCode);
  const merged = e.subject ? `${subject}: ${e.subject}` : subject;
  const out = new PalisadeError(e.code, e.message, { subject: merged, cause: e.cause ?? err });
  return out;
}

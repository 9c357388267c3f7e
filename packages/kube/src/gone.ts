import { PalisadeError } from '@palisade/core';

/**
 * The server no longer has the requested resourceVersion (HTTP 410 Gone): a list's continue
 * token expired, or a watch fell too far behind. Lists restart; watchers relist.
 */
export class GoneError extends PalisadeError {}

/** The registry client and its helpers, for the CLI and the later referrers publisher. */
export { RegistryClient, digestOf, DEFAULT_MAX_MANIFEST_BYTES } from './client.js';
export type { RegistryClientOptions, CallOptions, ManifestResult, BlobInfo } from './client.js';
export { lookupCredentials, type ResolvedCredentials, type CredentialLookupOptions } from './credentials.js';
export { parseChallenge, type Challenge } from './auth.js';
export { MediaType, IMAGE_ACCEPT, MANIFEST_ACCEPT, isIndexMediaType, isManifestMediaType } from './mediatypes.js';
export { DEFAULT_PLATFORM, normalizePlatform, formatPlatform, parsePlatform, selectPlatform } from './platform.js';
export {
  parseManifestDocument,
  parseImageConfig,
  type Descriptor,
  type ParsedIndex,
  type ParsedManifest,
} from './manifest.js';

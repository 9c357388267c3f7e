/**
 * The one list of catalogers. Adding a cataloger means adding it here; ids must be unique
 * (the registry throws on a duplicate), and a cataloger's version is part of the layer cache key.
 */
import { PluginRegistry } from '@palisade/core';
import type { Cataloger } from './types.js';
import { cataloger as apk } from './apk/index.js';
import { cataloger as cargoLock } from './cargo-lock/index.js';
import { cataloger as dotnet } from './dotnet/index.js';
import { cataloger as dpkg } from './dpkg/index.js';
import { cataloger as gobinary } from './gobinary/index.js';
import { cataloger as java } from './java/index.js';
import { cataloger as npm } from './npm/index.js';
import { cataloger as php } from './php/index.js';
import { cataloger as python } from './python/index.js';
import { cataloger as rpm } from './rpm/index.js';
import { cataloger as ruby } from './ruby/index.js';
import { cataloger as rustAudit } from './rust-audit/index.js';

export function createCatalogerRegistry(): PluginRegistry<Cataloger> {
  return new PluginRegistry<Cataloger>('catalogers', [
    dpkg,
    apk,
    rpm,
    npm,
    python,
    gobinary,
    java,
    ruby,
    cargoLock,
    rustAudit,
    dotnet,
    php,
  ]);
}

/**
 * One explicit registry per plugin family (catalogers, version schemes, feed importers,
 * report writers, …). Each plugin has an id and a version; registering an id twice throws,
 * so two plugins can never silently shadow each other.
 */
export interface Plugin {
  readonly id: string;
  readonly version: number;
}

export class PluginRegistry<T extends Plugin> {
  private readonly byId = new Map<string, T>();

  constructor(
    readonly family: string,
    plugins: readonly T[] = [],
  ) {
    for (const p of plugins) this.register(p);
  }

  register(plugin: T): void {
    if (this.byId.has(plugin.id)) {
      throw new Error(`${this.family}: duplicate plugin id "${plugin.id}"`);
    }
    this.byId.set(plugin.id, plugin);
  }

  get(id: string): T | undefined {
    return this.byId.get(id);
  }

  require(id: string): T {
    const p = this.byId.get(id);
    if (!p) throw new Error(`${this.family}: no plugin "${id}" (known: ${this.ids().join(', ')})`);
    return p;
  }

  /** All plugins in registration order. */
  all(): T[] {
    return [...this.byId.values()];
  }

  ids(): string[] {
    return [...this.byId.keys()];
  }

  /** "id@version" of every plugin, sorted: part of cache keys so results are redone when a plugin changes. */
  fingerprint(): string {
    return this.all()
      .map((p) => `${p.id}@${p.version}`)
      .sort()
      .join(',');
  }
}

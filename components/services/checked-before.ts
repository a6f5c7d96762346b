// What a dynamic provider's check may skip: work it derives, with pure code, from inputs it already
// accepted. The engine passes check the inputs it stored after the previous check (its `olds`),
// with the provider's code under `__provider`; when that code and every input the work reads are the
// same, the work can only repeat its earlier result. A no-op `up` checks every resource, one after
// another, so such work (parsing user-data, loading `yaml` to write a config) sat on its serial chain.
//
// Only a check may read the provider code (test/components/services/bundled-provider.test.ts): a diff
// that named it would call a new packed text a change.

/** Where the engine keeps a dynamic resource's provider code in its inputs (the bundle, packed). */
const PROVIDER_CODE = "__provider";

/**
 * Whether the same provider code already checked these same values of `keys`: `olds` are the inputs
 * the engine stored after check accepted them. Values compare as JSON; an absent value is null.
 */
export function checkedBefore(olds: Partial<Record<string, unknown>> | undefined, news: Partial<Record<string, unknown>>, keys: readonly string[]): boolean {
    const code = news[PROVIDER_CODE];
    if (!olds || typeof code !== "string" || code === "" || olds[PROVIDER_CODE] !== code) return false;
    return keys.every((key) => JSON.stringify(olds[key] ?? null) === JSON.stringify(news[key] ?? null));
}

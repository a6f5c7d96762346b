// Who owns a service and what a write of it does, decided from what etcd holds: the claim (a
// per-service marker or a set record line, model/set-records.ts), the refusal of another owner's
// service, adoption, and the operations of one service's write. Pure; imports only Pulumi-free
// modules (the providers bundle it).
import { decodeOwnerMarker, encodeOwnerMarker, isEmptyRecord, KeyOperation, KeyValues, ownerMarkerKey, OwnerMarker, planKeyChanges, ServiceDefinition, serviceKeyPuts, serviceRoot } from "./service-keys";
import { SetClaim } from "./set-records";

/**
 * Who claims a service, as etcd records it: the newest set record line, unless the per-service
 * marker was modified after that line's <since> (model/set-records.ts; the snapshot holds the line
 * only when it wins); otherwise the marker. `claimed` is true for an undecodable marker too (an
 * unrecognized owner). Undefined `claim` with `claimed` false: nobody.
 */
export function serviceClaim(root: string, snap: Pick<ServiceSnapshot, "markerValue" | "setClaim">): { claimed: boolean; claim?: OwnerMarker; where?: string } {
    if (snap.setClaim) return { claimed: true, claim: { owner: snap.setClaim.owner, keys: snap.setClaim.keys }, where: snap.setClaim.recordKey };
    if (snap.markerValue === undefined) return { claimed: false };
    return { claimed: true, claim: decodeOwnerMarker(snap.markerValue, root) };
}

/**
 * The keys a registration owns, as refresh sees them: its claim (marker or set record), when it
 * names `id`, is the record (also when the state lacks the keys: a create recovered by id); a claim
 * of another owner means nothing is owned any more; with no claim, the state's list (markers came
 * with provider 1.1.0).
 */
export function ownedKeysSeen(root: string, snap: Pick<ServiceSnapshot, "markerValue" | "setClaim">, id: string, ownedInState: readonly string[] | undefined): string[] {
    const { claimed, claim } = serviceClaim(root, snap);
    if (!claimed) return [...(ownedInState ?? [])];
    return claim?.owner === id ? claim.keys : [];
}

/** What etcd holds for one service before a write: keys under `<root>/`, its claims, v2 keys. */
export interface ServiceSnapshot {
    keys: KeyValues;
    markerValue?: string;
    /** "0" when the marker is absent. */
    markerModRevision: string;
    /** The newest set record line listing the service, when it beats the marker (see serviceClaim). */
    setClaim?: SetClaim;
    /** Every set record line listing the service, superseded ones too (what a write or a removal tidies). */
    setLines?: SetClaim[];
    /** The revision etcd read this at: writes are guarded against any change to the service after it. */
    revision?: string;
    /** Keys under `<root>/` in the v2 keyspace (only read when mirroring). */
    v2Keys?: KeyValues;
}

export interface ServiceWriteRequest {
    /** The resource id written into the owner marker. */
    owner: string;
    definition: ServiceDefinition;
    /** v3 keys this resource wrote before (empty on create). */
    ownedBefore: string[];
    mirrorToV2: boolean;
    /** v2 keys this resource wrote before. */
    mirroredBefore: string[];
    adopt: boolean;
    /** Owners whose registration of this service is taken over rather than refused (a hand-over within one stack). */
    adoptFrom?: string[];
    /**
     * The writer records ownership in set records (one per transaction, model/set-records.ts): the
     * plan puts no marker for a service that has none. A service that has one (its own, from
     * provider 1.2.0, or the previous owner's it takes over) gets one naming this owner instead, so
     * code that predates set records (an old registration's delete, an old sidekick) sees it taken.
     */
    recordedBySet?: boolean;
}

export interface ServiceWritePlan {
    root: string;
    markerKey: string;
    markerValue: string;
    /** Keys owned after the write. */
    ownedKeys: string[];
    mirroredKeys: string[];
    /** v3 operations, the owner marker put included unless recorded by a set (one transaction). */
    v3: KeyOperation[];
    v2: KeyOperation[];
    /** Why the write must not happen (another owner), or undefined. */
    refusal?: string;
}

function listKeys(keys: string[]): string {
    return keys.length <= 3 ? keys.join(", ") : `${keys.slice(0, 3).join(", ")} and ${keys.length - 3} more`;
}

/**
 * Decides a create/update of one service from what etcd holds. Refuses to take over keys of
 * another writer unless `adopt` (or its marker names one of `adoptFrom`); then the keys the previous owner recorded in its marker
 * become this resource's (so stale ones are removed), keys of unknown writers are only overwritten.
 */
export function planServiceWrite(req: ServiceWriteRequest, snap: ServiceSnapshot): ServiceWritePlan {
    const def = req.definition;
    const root = serviceRoot(def.prefix, def.service);
    const markerKey = ownerMarkerKey(def.prefix, def.service);
    // Seeding plans tens of thousands of services: the puts are built once, the keys read off them.
    const puts = serviceKeyPuts(def);
    const desiredKeys = puts.map((o) => o.key);
    const marked = !req.recordedBySet || snap.markerValue !== undefined;
    const markerValue = marked ? encodeOwnerMarker({ owner: req.owner, keys: desiredKeys }, root) : "";
    const markerOps: KeyOperation[] = marked ? [{ op: "put", key: markerKey, value: markerValue }] : [];
    const mirroredKeys = req.mirrorToV2 ? desiredKeys : [];
    // Nothing in etcd and nothing written before (a first registration, e.g. seeding): nothing to
    // refuse, merge or delete. Seeding plans thousands of these, one per service, so this path
    // builds no record keyed by key names (slow to build with thousands of distinct names).
    if (snap.markerValue === undefined && snap.setClaim === undefined && req.ownedBefore.length === 0 && req.mirroredBefore.length === 0 && isEmptyRecord(snap.keys) && isEmptyRecord(snap.v2Keys)) {
        const v3 = markerOps.length === 0 ? puts : [...puts, ...markerOps];
        return { root, markerKey, markerValue, ownedKeys: desiredKeys, mirroredKeys, v3, v2: req.mirrorToV2 ? puts : [] };
    }
    const desired: KeyValues = {};
    for (const o of puts) desired[o.key] = o.value;

    const { claimed, claim: marker, where } = serviceClaim(root, snap);
    const markedByOther = claimed && marker?.owner !== req.owner;
    const adopt = req.adopt || (markedByOther && marker !== undefined && (req.adoptFrom ?? []).includes(marker.owner));
    // A claim naming this owner is this resource's own record (e.g. a create that committed but whose
    // result the engine never saved): the keys it lists are this resource's, so a re-run converges.
    const ownRecord = !markedByOther && marker ? marker.keys : [];
    const isCreate = req.ownedBefore.length === 0 && marker?.owner !== req.owner;
    const ownedBefore = [...new Set([...req.ownedBefore, ...ownRecord])];
    const mirroredBefore = [...new Set([...req.mirroredBefore, ...(req.mirrorToV2 ? ownRecord : [])])];
    const owned = new Set(ownedBefore);
    const mirrored = new Set(mirroredBefore);
    let refusal: string | undefined;

    if (!adopt) {
        const existing = Object.keys(snap.keys);
        const existingV2 = req.mirrorToV2 ? Object.keys(snap.v2Keys ?? {}) : [];
        const hint = "set adopt: true to take it over";
        if (markedByOther) {
            refusal = `${root} is already registered by another owner (${marker?.owner ?? "unrecognized owner marker"} at ${where ?? markerKey}); ${hint}`;
        } else if (isCreate && existing.length > 0) {
            refusal = `${root} already has keys in etcd with no owner marker (written by another tool: ${listKeys(existing.sort())}); ${hint}`;
        } else if (isCreate && existingV2.length > 0) {
            refusal = `${root} already has keys in the etcd v2 keyspace (written by another tool: ${listKeys(existingV2.sort())}); ${hint}`;
        } else {
            const claimedKeys = desiredKeys.filter((k) => k in snap.keys && !owned.has(k));
            const claimedV2 = req.mirrorToV2 ? desiredKeys.filter((k) => k in (snap.v2Keys ?? {}) && !mirrored.has(k)) : [];
            if (claimedKeys.length > 0 || claimedV2.length > 0) {
                refusal = `${root}: writing would overwrite keys another writer added (${listKeys([...new Set([...claimedKeys, ...claimedV2])].sort())}); ${hint}`;
            }
        }
    }

    const previouslyOwned = [...new Set([...ownedBefore, ...(adopt && marker ? marker.keys : [])])];
    const v3 = [...planKeyChanges(previouslyOwned, desired), ...markerOps];
    const v2 = req.mirrorToV2
        ? planKeyChanges([...new Set([...mirroredBefore, ...(adopt ? previouslyOwned : [])])], desired)
        : req.mirroredBefore.map((key) => ({ op: "delete" as const, key }));
    return { root, markerKey, markerValue, ownedKeys: desiredKeys, mirroredKeys, v3, v2, refusal };
}


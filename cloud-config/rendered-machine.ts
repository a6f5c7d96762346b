// What rendering hands the platforms: one machine's user-data, and the hash its outputs show.
// Its own module so that a run served by the render cache (components/render-cache.ts) loads
// nothing of the renderers.
import { createHash } from "crypto";
import type { MachineRole } from "../model/types";

export interface RenderedMachine {
    name: string;
    role: MachineRole;
    /** `etcd-0.yaml`, `worker.yaml` (GCE template) or `worker-0.yaml` (local). */
    fileName: string;
    /** `#cloud-config\n...` */
    userData: string;
}

export function userDataHash(text: string): string {
    return createHash("sha256").update(text, "utf8").digest("hex");
}

/** A value shaped as a RenderedMachine (what the render cache reads back from disk). */
export function isRenderedMachine(value: unknown): value is RenderedMachine {
    if (typeof value !== "object" || value === null) return false;
    const m = value as Record<string, unknown>;
    return (m.role === "etcd" || m.role === "worker") && [m.name, m.fileName, m.userData].every((v) => typeof v === "string");
}

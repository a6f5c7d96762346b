// The Environment= of a unit as the rendered user-data carries it (the flow check reads what a
// machine would run, never the model it was built from).
import YAML from "yaml";
import { parseEnvironmentDropIn } from "../cloud-config/environment";
import { ROUTER_UNIT } from "../cloud-config/router";

/** The Environment= of one unit's own content, empty when the user-data has no such unit. */
export function unitEnvironmentOf(userData: string, unitName: string): Record<string, string> {
    const coreos = ((YAML.parse(userData) as Record<string, any> | null)?.coreos ?? {}) as Record<string, any>;
    const unit = ((coreos.units ?? []) as Array<{ name?: string; content?: string }>).find((u) => u.name === unitName);
    return unit?.content ? parseEnvironmentDropIn(unit.content) : {};
}

/** The ROUTER_* environment of a worker's router unit (cloud-config/router.ts), empty when it has none. */
export function routerEnvironmentOf(userData: string): Record<string, string> {
    return unitEnvironmentOf(userData, ROUTER_UNIT);
}

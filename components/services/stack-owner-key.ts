// The owner identity of a registration resource in the running stack: program side only (it asks
// the SDK for the organization, project and stack), so it stays out of the providers' bundles.
import * as pulumi from "@pulumi/pulumi";
import { registrationOwnerKey } from "../../model/service-keys";

/** The Pulumi organization; the DIY backend's (and the SDK mocks') fixed name when there is none. */
function organizationName(): string {
    try {
        return (pulumi as { getOrganization?: () => string }).getOrganization?.() || "organization";
    } catch {
        return "organization";
    }
}

/** The owner identity of the resource named `resourceName` in the running stack (see registrationOwnerKey). */
export function stackOwnerKey(resourceName: string): string {
    return registrationOwnerKey({ organization: organizationName(), project: pulumi.getProject(), stack: pulumi.getStack(), resourceName });
}

// A dynamic resource whose provider was made by bundledProvider: registered exactly as
// pulumi.dynamic.Resource registers one (type pulumi-nodejs:dynamic[/<module>]:<type>, the provider's
// text as the reserved `__provider` input), but with the text bundledProvider wrote out rather than
// one from the SDK's closure serializer (why: components/services/bundled-provider.ts). Its own
// module because it loads the SDK, which bundled-provider.ts (built into the program only) does not need.
import * as pulumi from "@pulumi/pulumi";
import { ProviderOperations, serializedProviderText } from "./bundled-provider";

const PROVIDER_KEY = "__provider";

export class BundledResource extends pulumi.CustomResource {
    constructor(provider: ProviderOperations, name: string, props: pulumi.Inputs, opts?: pulumi.CustomResourceOptions, module?: string, type = "Resource") {
        if (props[PROVIDER_KEY]) throw new Error("A dynamic resource must not define the __provider key");
        const text = serializedProviderText(provider);
        if (text === undefined) throw new Error(`${type} "${name}": its provider was not made by bundledProvider (no serialized text)`);
        props[PROVIDER_KEY] = text;
        super(`pulumi-nodejs:dynamic${module ? `/${module}` : ""}:${type}`, name, props, opts);
    }
}

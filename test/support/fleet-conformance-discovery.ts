// The API discovery document the conformance server serves at /discovery: the shapes and methods
// of shared/reference/fleet-api.md in Google's discovery format (the format fleetd serves).
const str = { type: "string" };
const page = (item: string, key: string) => ({ id: `${item}Page`, type: "object", properties: { [key]: { type: "array", items: { $ref: item } }, nextPageToken: str } });
const list = (path: string, resp: string, extra: Record<string, unknown> = {}) => ({
    id: `fleet.${path}.List`, httpMethod: "GET", path, response: { $ref: resp },
    parameters: { nextPageToken: { type: "string", location: "query" }, ...extra },
});

export const DISCOVERY_DOCUMENT = {
    kind: "discovery#restDescription",
    discoveryVersion: "v1",
    id: "fleet:v1",
    name: "schema",
    version: "v1",
    title: "fleet API",
    description: "Schedule and query systemd units across a cluster of machines.",
    documentationLink: "https://github.com/coreos/fleet",
    protocol: "rest",
    servicePath: "fleet/v1/",
    batchPath: "batch",
    parameters: {},
    schemas: {
        Machine: { id: "Machine", type: "object", properties: { id: str, primaryIP: str, metadata: { type: "object", additionalProperties: str } } },
        MachinePage: page("Machine", "machines"),
        UnitOption: { id: "UnitOption", type: "object", properties: { section: str, name: str, value: str } },
        Unit: {
            id: "Unit", type: "object",
            properties: {
                name: str, options: { type: "array", items: { $ref: "UnitOption" } },
                desiredState: { type: "string", enum: ["inactive", "loaded", "launched"] },
                currentState: { type: "string", enum: ["inactive", "loaded", "launched"] },
                machineID: str,
            },
        },
        UnitPage: page("Unit", "units"),
        UnitState: { id: "UnitState", type: "object", properties: { name: str, hash: str, machineID: str, systemdLoadState: str, systemdActiveState: str, systemdSubState: str } },
        UnitStatePage: page("UnitState", "states"),
    },
    resources: {
        Machines: { methods: { List: list("machines", "MachinePage") } },
        Units: {
            methods: {
                List: list("units", "UnitPage"),
                Get: { id: "fleet.Units.Get", httpMethod: "GET", path: "units/{unitName}", parameters: { unitName: { type: "string", location: "path", required: true } }, response: { $ref: "Unit" } },
                Delete: { id: "fleet.Units.Delete", httpMethod: "DELETE", path: "units/{unitName}", parameters: { unitName: { type: "string", location: "path", required: true } } },
                Set: { id: "fleet.Units.Set", httpMethod: "PUT", path: "units/{unitName}", parameters: { unitName: { type: "string", location: "path", required: true } }, request: { $ref: "Unit" } },
            },
        },
        UnitState: {
            methods: {
                List: list("state", "UnitStatePage", { machineID: { type: "string", location: "query" }, unitName: { type: "string", location: "query" } }),
            },
        },
    },
};

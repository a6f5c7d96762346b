import { expect } from "chai";
import { validateConfig, loadConfig } from "../../model/validate";
import { ConfigValidationError } from "../../model/types";
import { TEST_PRIVATE_KEY, gcpRaw, localRaw, prodRaw } from "./raw-configs";

function problemsOf(raw: Record<string, unknown>, stack = "dev") {
    const result = validateConfig(raw, stack);
    return result;
}

describe("model/validate: the baselines are valid", () => {
    for (const [name, raw, stack] of [
        ["gcp dev", gcpRaw(), "dev"],
        ["gcp prod", prodRaw(), "prod"],
        ["local", localRaw(), "local"],
    ] as const) {
        it(`${name} has no problem and yields a config`, () => {
            const result = validateConfig(raw, stack);
            expect(result.problems).to.deep.equal([]);
            expect(result.config).to.not.equal(undefined);
        });
    }
});

interface RejectCase {
    what: string;
    raw: Record<string, unknown>;
    stack?: string;
    key: string;
    message: RegExp;
}

const cases: RejectCase[] = [
    // types
    { what: "a string where an integer is expected", raw: gcpRaw({ etcdCount: "three" }), key: "etcdCount", message: /must be an integer, got the string "three"/ },
    { what: "a fraction where an integer is expected", raw: gcpRaw({ workerMin: 2.5 }), key: "workerMin", message: /must be an integer, got number 2.5/ },
    { what: "a number where a string is expected", raw: gcpRaw({ region: 42 }), key: "region", message: /must be a string/ },
    { what: "a string where a boolean is expected", raw: gcpRaw({ externalIps: "yes" }), key: "externalIps", message: /must be true or false/ },
    { what: "a scalar where a list is expected", raw: gcpRaw({ zones: "europe-west1-b" }), key: "zones", message: /must be a list of strings/ },
    { what: "a wrong item type in a list", raw: gcpRaw({ lbHttpPorts: [80, "443"] }), key: "lbHttpPorts[1]", message: /must be an integer/ },
    { what: "a list where an object is expected", raw: gcpRaw({ fleetMetadata: ["a=b"] }), key: "fleetMetadata", message: /must be an object/ },
    { what: "a key with no value", raw: gcpRaw({ etcdVersion: null }), key: "etcdVersion", message: /has no value/ },
    { what: "an unknown key (typo)", raw: gcpRaw({ etcdCont: 5 }), key: "etcdCont", message: /unknown config key "etcdCont"; did you mean "etcdCount"/ },
    { what: "an unknown key with no close match", raw: gcpRaw({ frobnicate: true }), key: "frobnicate", message: /unknown config key "frobnicate"; known: clusterName/ },
    // etcd count
    { what: "an even member count", raw: gcpRaw({ etcdCount: 4 }), key: "etcdCount", message: /must be odd: 4 members need a majority of 3 and tolerate 1 failure[\s\S]*cluster size \| majority \| failure tolerance[\s\S]*4 \|\s+3 \| 1/ },
    { what: "6 members", raw: gcpRaw({ etcdCount: 6 }), key: "etcdCount", message: /same failure tolerance as 5 members/ },
    { what: "9 members", raw: gcpRaw({ etcdCount: 9 }), key: "etcdCount", message: /must be 3, 5 or 7 \(got 9\)[\s\S]*Fault tolerance/ },
    { what: "0 members", raw: gcpRaw({ etcdCount: 0 }), key: "etcdCount", message: /must be 3, 5 or 7 \(got 0\)/ },
    { what: "a single member on a stack not marked dev", raw: gcpRaw({ isDev: false, allowSingleMember: true, etcdCount: 1 }), key: "etcdCount", message: /tolerates 0 failures: allowed only on a stack marked isDev: true with allowSingleMember/ },
    { what: "a single member on a dev stack without allowSingleMember", raw: gcpRaw({ etcdCount: 1 }), key: "etcdCount", message: /allowSingleMember/ },
    { what: "allowSingleMember without the dev marker", raw: gcpRaw({ isDev: false, allowSingleMember: true, etcdCount: 1 }), key: "allowSingleMember", message: /only on a stack marked isDev/ },
    // placement
    { what: "a zone of another region", raw: gcpRaw({ zones: ["europe-west1-b", "us-central1-a"] }), key: "zones[1]", message: /"us-central1-a" is not a zone of region europe-west1/ },
    { what: "a malformed zone", raw: gcpRaw({ zones: ["europe-west1"] }), key: "zones[0]", message: /not a zone of region europe-west1/ },
    { what: "a duplicate zone", raw: gcpRaw({ zones: ["europe-west1-b", "europe-west1-b"] }), key: "zones[1]", message: /duplicate zone "europe-west1-b"/ },
    { what: "no zones on gcp", raw: gcpRaw({ zones: [] }), key: "zones", message: /is required on platform gcp/ },
    { what: "no project on gcp", raw: gcpRaw({ project: "" }), key: "project", message: /is required on platform gcp/ },
    { what: "a malformed project id", raw: gcpRaw({ project: "My_Project" }), key: "project", message: /not a GCP project id/ },
    { what: "a malformed region", raw: gcpRaw({ region: "Europe West" }), key: "region", message: /not a GCP region/ },
    { what: "an unknown platform", raw: gcpRaw({ platform: "aws" }), key: "platform", message: /must be "gcp" or "local"/ },
    { what: "an invalid cluster name", raw: gcpRaw({ clusterName: "My Cluster" }), key: "clusterName", message: /not a valid cluster name/ },
    { what: "a cluster name too long for resource names", raw: gcpRaw({ clusterName: "a".repeat(25) }), key: "clusterName", message: /1-24/ },
    // CIDRs
    { what: "a malformed subnet CIDR", raw: gcpRaw({ subnetCidr: "10.10.0.0" }), key: "subnetCidr", message: /is not an IPv4 CIDR/ },
    { what: "an out-of-range octet", raw: gcpRaw({ subnetCidr: "10.256.0.0/16" }), key: "subnetCidr", message: /invalid IPv4 address/ },
    { what: "a leading zero", raw: gcpRaw({ subnetCidr: "10.010.0.0/16" }), key: "subnetCidr", message: /invalid IPv4 address/ },
    { what: "a prefix over 32", raw: gcpRaw({ subnetCidr: "10.0.0.0/33" }), key: "subnetCidr", message: /prefix \/33/ },
    { what: "host bits set", raw: gcpRaw({ subnetCidr: "10.10.0.5/24" }), key: "subnetCidr", message: /host bits set; the network address of that range is 10.10.0.0\/24/ },
    { what: "a subnet GCE refuses (/30)", raw: gcpRaw({ subnetCidr: "10.10.0.0/30" }), key: "subnetCidr", message: /\/8 to \/29/ },
    { what: "a loopback subnet", raw: gcpRaw({ subnetCidr: "127.0.0.0/24" }), key: "subnetCidr", message: /overlaps a range GCE cannot use/ },
    { what: "a subnet too small for the cluster", raw: gcpRaw({ subnetCidr: "10.10.0.0/29", workerMax: 4 }), key: "subnetCidr", message: /has 4 usable addresses .* needs 7/ },
    { what: "a malformed SSH source range", raw: gcpRaw({ sshSourceRanges: ["35.235.240.0/20", "1.2.3.4/40"] }), key: "sshSourceRanges[1]", message: /prefix \/40/ },
    { what: "0.0.0.0/0 as SSH source", raw: gcpRaw({ sshSourceRanges: ["0.0.0.0/0"] }), key: "sshSourceRanges", message: /opens SSH to the internet: 0\.0\.0\.0\/0 admits 100% of the public IPv4 space.*sshAllowWorld/ },
    { what: "a duplicate SSH source range", raw: gcpRaw({ sshSourceRanges: ["10.0.0.0/8", "10.0.0.0/8"] }), key: "sshSourceRanges[1]", message: /duplicate range/ },
    { what: "a malformed SSH public key", raw: gcpRaw({ sshAuthorizedKeys: ["not a key"] }), key: "sshAuthorizedKeys[0]", message: /not an SSH public key/ },
    { what: "SSH keys that alone exceed GCE's user-data limit", raw: gcpRaw({ sshAuthorizedKeys: Array.from({ length: 700 }, (_, i) => `ssh-rsa AAAAB3NzaC1yc2E${String(i).padStart(4, "0")}${"Q".repeat(380)} u${i}@example.com`) }), key: "sshAuthorizedKeys", message: /over GCE's 262144-byte \(256 KiB\) limit/ },
    { what: "an existing subnetwork without its network", raw: gcpRaw({ existingSubnetwork: "projects/p/regions/r/subnetworks/s" }), key: "existingSubnetwork", message: /requires existingNetwork/ },
    // services
    { what: "an invalid service name", raw: gcpRaw({ services: [{ name: "Web_App", scheme: "http", hosts: ["10.0.0.1:80"] }] }), key: "services[0].name", message: /not a valid service name/ },
    { what: "a service name with a slash", raw: gcpRaw({ services: [{ name: "a/b", scheme: "http", hosts: ["10.0.0.1:80"] }] }), key: "services[0].name", message: /etcd key/ },
    { what: "a duplicate service name", raw: gcpRaw({ services: [{ name: "web", scheme: "http", hosts: ["10.0.0.1:80"] }, { name: "web", scheme: "http", hosts: ["10.0.0.2:80"] }] }), key: "services[1].name", message: /duplicate service name "web" \(also services\[0\]\)/ },
    { what: "an unknown scheme", raw: gcpRaw({ services: [{ name: "web", scheme: "udp", hosts: ["10.0.0.1:80"] }] }), key: "services[0].scheme", message: /must be "http" or "tcp"/ },
    { what: "a host without port", raw: gcpRaw({ services: [{ name: "web", scheme: "http", hosts: ["10.0.0.1"] }] }), key: "services[0].hosts[0]", message: /not ip:port/ },
    { what: "a host name instead of an IP", raw: gcpRaw({ services: [{ name: "web", scheme: "http", hosts: ["10.0.0.1:80", "web.local:80"] }] }), key: "services[0].hosts[1]", message: /"web\.local:80" is not ip:port \(a canonical IPv4 address/ },
    { what: "a host port of 0", raw: gcpRaw({ services: [{ name: "web", scheme: "http", hosts: ["10.0.0.1:0"] }] }), key: "services[0].hosts[0]", message: /is not ip:port \(a canonical IPv4 address and a port 1-65535/ },
    { what: "a host port over 65535", raw: gcpRaw({ services: [{ name: "web", scheme: "http", hosts: ["10.0.0.1:70000"] }] }), key: "services[0].hosts[0]", message: /is not ip:port \(a canonical IPv4 address and a port 1-65535/ },
    { what: "an empty hosts list", raw: gcpRaw({ services: [{ name: "web", scheme: "http", hosts: [] }] }), key: "services[0].hosts", message: /non-empty list/ },
    { what: "a tcp service without host_port", raw: gcpRaw({ services: [{ name: "db", scheme: "tcp", hosts: ["10.0.0.1:5432"] }] }), key: "services[0].host_port", message: /required for a tcp service/ },
    { what: "a host_port outside 1-65535", raw: gcpRaw({ services: [{ name: "db", scheme: "tcp", hosts: ["10.0.0.1:5432"], host_port: 70000 }] }), key: "services[0].host_port", message: /must be an integer port 1-65535, got 70000/ },
    { what: "a host_port given as a string", raw: gcpRaw({ services: [{ name: "db", scheme: "tcp", hosts: ["10.0.0.1:5432"], host_port: "5432" }] }), key: "services[0].host_port", message: /must be an integer port/ },
    { what: "a host_port used by two tcp services", raw: gcpRaw({ services: [{ name: "a", scheme: "tcp", hosts: ["10.0.0.1:1"], host_port: 9000 }, { name: "b", scheme: "tcp", hosts: ["10.0.0.2:1"], host_port: 9000 }] }), key: "services[1].host_port", message: /port 9000 is the host_port of service "b" here and also the host_port of service "a" \(services\[0\]\.host_port\)/ },
    { what: "a tcp host_port on an HTTP port", raw: gcpRaw({ services: [{ name: "a", scheme: "tcp", hosts: ["10.0.0.1:1"], host_port: 80 }] }), key: "services[0].host_port", message: /port 80 is the host_port of service "a" here and also a load-balanced HTTP port \(lbHttpPorts\[0\]\)/ },
    { what: "a host_port on the health-check port", raw: gcpRaw({ services: [{ name: "a", scheme: "tcp", hosts: ["10.0.0.1:1"], host_port: 10256 }] }), key: "services[0].host_port", message: /also the worker health check \(healthCheckPort\)/ },
    { what: "a host_port on the etcd client port", raw: gcpRaw({ services: [{ name: "a", scheme: "tcp", hosts: ["10.0.0.1:1"], host_port: 2379 }] }), key: "services[0].host_port", message: /etcd client port/ },
    { what: "public given as a string", raw: gcpRaw({ services: [{ name: "db", scheme: "tcp", hosts: ["10.0.0.1:5432"], host_port: 5432, public: "yes" }] }), key: "services[0].public", message: /must be true or false/ },
    { what: "public on a service without a host_port", raw: gcpRaw({ services: [{ name: "web", scheme: "http", hosts: ["10.0.0.1:80"], public: true }] }), key: "services[0].public", message: /has none/ },
    { what: "a misspelt service field", raw: gcpRaw({ services: [{ name: "a", scheme: "tcp", hosts: ["10.0.0.1:1"], hostPort: 9000 }] }), key: "services[0].hostPort", message: /did you mean "host_port"/ },
    { what: "a service that is not an object", raw: gcpRaw({ services: ["web"] }), key: "services[0]", message: /must be an object/ },
    { what: "a bad services prefix", raw: gcpRaw({ servicesPrefix: "services/" }), key: "servicesPrefix", message: /must be an etcd key path/ },
    { what: "a services prefix that climbs out with ..", raw: gcpRaw({ servicesPrefix: "/services/../etc" }), key: "servicesPrefix", message: /no "\." or "\.\." segment/ },
    { what: "a services prefix with a . segment", raw: gcpRaw({ servicesPrefix: "/services/./x" }), key: "servicesPrefix", message: /no "\." or "\.\." segment/ },
    { what: "a services prefix with an empty segment", raw: gcpRaw({ servicesPrefix: "/services//x" }), key: "servicesPrefix", message: /no empty segment/ },
    { what: "a services prefix with a trailing /", raw: gcpRaw({ servicesPrefix: "/services/" }), key: "servicesPrefix", message: /no trailing "\/"/ },
    { what: "a services prefix inside the ownership namespace", raw: gcpRaw({ servicesPrefix: "/coreos-cluster/owners/x" }), key: "servicesPrefix", message: /overlaps the ownership namespace/ },
    // ports
    { what: "an LB port out of range", raw: gcpRaw({ lbTcpPorts: [0] }), key: "lbTcpPorts[0]", message: /must be an integer port 1-65535, got 0/ },
    { what: "an LB port that is SSH", raw: gcpRaw({ lbTcpPorts: [22] }), key: "lbTcpPorts[0]", message: /SSH/ },
    { what: "a duplicate LB port", raw: gcpRaw({ lbHttpPorts: [80, 80] }), key: "lbHttpPorts[1]", message: /port 80 is a load-balanced HTTP port here and also a load-balanced HTTP port \(lbHttpPorts\[0\]\)/ },
    { what: "a port in both LB lists", raw: gcpRaw({ lbTcpPorts: [80] }), key: "lbTcpPorts[0]", message: /port 80 is a load-balanced TCP port here and also a load-balanced HTTP port \(lbHttpPorts\[0\]\)/ },
    { what: "a health-check port on the etcd peer port", raw: gcpRaw({ healthCheckPort: 2380 }), key: "healthCheckPort", message: /etcd peer port/ },
    { what: "a relative health-check path", raw: gcpRaw({ healthCheckPath: "healthz" }), key: "healthCheckPath", message: /absolute HTTP path/ },
    // fleet units
    { what: "a unit name without a known suffix", raw: gcpRaw({ fleetUnits: [{ name: "web", content: "[Service]\nExecStart=/bin/true\n" }] }), key: "fleetUnits[0].name", message: /fleet would refuse this unit: .*must end with one of/ },
    { what: "a unit name starting with @", raw: gcpRaw({ fleetUnits: [{ name: "@x.service", content: "[Service]\nExecStart=/bin/true\n" }] }), key: "fleetUnits[0].name", message: /must not start with "@"/ },
    { what: "a unit name with a space", raw: gcpRaw({ fleetUnits: [{ name: "my unit.service", content: "[Service]\nExecStart=/bin/true\n" }] }), key: "fleetUnits[0].name", message: /invalid characters/ },
    { what: "a template of a type fleet cannot template", raw: gcpRaw({ fleetUnits: [{ name: "data@.mount", content: "[Mount]\nWhat=/dev/sdb\n" }] }), key: "fleetUnits[0].name", message: /template unit/ },
    { what: "a duplicate unit name", raw: gcpRaw({ fleetUnits: [{ name: "a.service", content: "[Service]\nExecStart=/bin/true\n" }, { name: "a.service", content: "[Service]\nExecStart=/bin/false\n" }] }), key: "fleetUnits[1].name", message: /duplicate unit "a.service" \(also fleetUnits\[0\].name\)/ },
    { what: "an instance that duplicates a declared unit", raw: gcpRaw({ fleetUnits: [{ name: "web@1.service", content: "[Service]\nExecStart=/bin/true\n" }, { name: "web@.service", instances: [1], content: "[Service]\nExecStart=/bin/true\n" }] }), key: "fleetUnits[1].instances[0]", message: /duplicate unit "web@1.service"/ },
    { what: "both content and options", raw: gcpRaw({ fleetUnits: [{ name: "a.service", content: "[Service]\nExecStart=/bin/true\n", options: [] }] }), key: "fleetUnits[0]", message: /exactly one of content/ },
    { what: "neither content nor options", raw: gcpRaw({ fleetUnits: [{ name: "a.service" }] }), key: "fleetUnits[0]", message: /exactly one of content/ },
    { what: "unit file syntax errors", raw: gcpRaw({ fleetUnits: [{ name: "a.service", content: "ExecStart=/bin/true\n" }] }), key: "fleetUnits[0].content", message: /unit file syntax: line 1/ },
    { what: "X-Fleet Global with MachineOf", raw: gcpRaw({ fleetUnits: [{ name: "a.service", content: "[Service]\nExecStart=/bin/true\n[X-Fleet]\nGlobal=true\nMachineOf=b.service\n" }] }), key: "fleetUnits[0].content", message: /Global cannot be used with MachineOf/ },
    { what: "X-Fleet MachineID with Conflicts (options form)", raw: gcpRaw({ fleetUnits: [{ name: "a.service", options: [{ section: "X-Fleet", name: "MachineID", value: "abc" }, { section: "X-Fleet", name: "Conflicts", value: "b*" }] }] }), key: "fleetUnits[0].options", message: /MachineID cannot be used with Conflicts/ },
    { what: "an option line of 2048 bytes or more", raw: gcpRaw({ fleetUnits: [{ name: "a.service", options: [{ section: "Service", name: "ExecStart", value: "/bin/echo " + "x".repeat(2100) }] }] }), key: "fleetUnits[0].options", message: /fleet accepts only lines under 2048 bytes/ },
    { what: "an option that is missing its value", raw: gcpRaw({ fleetUnits: [{ name: "a.service", options: [{ section: "Service", name: "ExecStart" }] }] }), key: "fleetUnits[0].options[0].value", message: /must be a string/ },
    { what: "an unknown desired state", raw: gcpRaw({ fleetUnits: [{ name: "a.service", desiredState: "running", content: "[Service]\nExecStart=/bin/true\n" }] }), key: "fleetUnits[0].desiredState", message: /inactive, loaded, launched/ },
    { what: "instances on a unit that is not a template", raw: gcpRaw({ fleetUnits: [{ name: "a.service", instances: [1], content: "[Service]\nExecStart=/bin/true\n" }] }), key: "fleetUnits[0].instances", message: /only for template units/ },
    // issue 23: real fleetd takes a launched template and that machine's agent never recovers
    { what: "a template declared launched with no instances", raw: gcpRaw({ fleetUnits: [{ name: "web@.service", desiredState: "launched", content: "[Service]\nExecStart=/bin/true\n" }] }), key: "fleetUnits[0].desiredState", message: /template unit "web@.service" cannot be launched with no instances: fleet would schedule the template itself .* agent then stops for good/ },
    { what: "a template declared loaded with an empty instance list", raw: gcpRaw({ fleetUnits: [{ name: "web@.service", desiredState: "loaded", instances: [], content: "[Service]\nExecStart=/bin/true\n" }] }), key: "fleetUnits[0].desiredState", message: /cannot be loaded with no instances/ },
    { what: "an instance name fleet would refuse", raw: gcpRaw({ fleetUnits: [{ name: "a@.service", instances: ["x y"], content: "[Service]\nExecStart=/bin/true\n" }] }), key: "fleetUnits[0].instances[0]", message: /fleet would refuse instance "a@x y.service"/ },
    // workers, machines, OS
    { what: "workerMin above workerMax", raw: gcpRaw({ workerMin: 5, workerMax: 3 }), key: "workerMax", message: /workerMin \(5\) is greater than workerMax \(3\)/ },
    { what: "a negative worker count", raw: gcpRaw({ workerMin: -1 }), key: "workerMin", message: /outside 0-1000/ },
    { what: "a malformed machine type", raw: gcpRaw({ etcdMachineType: "small" }), key: "etcdMachineType", message: /not a GCE machine type/ },
    { what: "a disk below GCE's minimum", raw: gcpRaw({ workerDiskSizeGb: 5 }), key: "workerDiskSizeGb", message: /outside 10-65536/ },
    { what: "an unknown OS flavor", raw: gcpRaw({ osFlavor: "coreos" }), key: "osFlavor", message: /flatcar" or "container-linux/ },
    { what: "container-linux without an image", raw: gcpRaw({ osFlavor: "container-linux" }), key: "osImage", message: /end of life in 2020/ },
    { what: "an etcd version without the v2 API", raw: gcpRaw({ etcdVersion: "v3.6.0" }), key: "etcdVersion", message: /no v2 API/ },
    { what: "a malformed etcd version", raw: gcpRaw({ etcdVersion: "3.5" }), key: "etcdVersion", message: /v3.<minor>.<patch>/ },
    { what: "a discovery URL that is not http(s)", raw: gcpRaw({ etcdDiscoveryUrl: "discovery.etcd.io/abc" }), key: "etcdDiscoveryUrl", message: /is not a URL like https:\/\// },
    // reboot
    { what: "a malformed reboot window start", raw: gcpRaw({ rebootWindowStart: "Sunday 4am", rebootWindowLength: "1h" }), key: "rebootWindowStart", message: /must look like "Sun 04:00"/ },
    { what: "a malformed reboot window length", raw: gcpRaw({ rebootWindowStart: "Sun 04:00", rebootWindowLength: "2 hours" }), key: "rebootWindowLength", message: /positive duration like 2h/ },
    { what: "a zero reboot window length", raw: gcpRaw({ rebootWindowStart: "Sun 04:00", rebootWindowLength: "0h" }), key: "rebootWindowLength", message: /positive duration/ },
    { what: "a window start without a length", raw: gcpRaw({ rebootWindowStart: "Sun 04:00" }), key: "rebootWindowLength", message: /set together/ },
    { what: "an unknown reboot strategy", raw: gcpRaw({ rebootStrategy: "best-effort" }), key: "rebootStrategy", message: /etcd-lock, reboot or off/ },
    { what: "a reboot window with strategy off", raw: gcpRaw({ rebootStrategy: "off", rebootWindowStart: "Sun 04:00", rebootWindowLength: "1h" }), key: "rebootWindowStart", message: /no effect/ },
    // fleet metadata and endpoint
    { what: "a fleet metadata key the program owns", raw: gcpRaw({ fleetMetadata: { role: "db" } }), key: "fleetMetadata.role", message: /set by the program/ },
    { what: "a fleet metadata value with a comma", raw: gcpRaw({ fleetMetadata: { tier: "a,b" } }), key: "fleetMetadata.tier", message: /no ","/ },
    { what: "a fleet endpoint across the network without a tunnel", raw: gcpRaw({ fleetEndpoint: "http://10.10.0.2:49153", sshTunnel: {} }), key: "fleetEndpoint", message: /no authentication and no TLS/ },
    { what: "a malformed fleet endpoint", raw: gcpRaw({ fleetEndpoint: "fleet.sock" }), key: "fleetEndpoint", message: /unix:\/\/\// },
    // access
    { what: "an etcd endpoint that is not a URL", raw: gcpRaw({ etcdEndpoints: ["10.10.0.2:2379"] }), key: "etcdEndpoints[0]", message: /etcd client URL/ },
    { what: "credentials inside an etcd endpoint", raw: gcpRaw({ etcdEndpoints: ["http://root:pw@10.10.0.2:2379"] }), key: "etcdEndpoints[0]", message: /carries credentials \(user@host\): use etcdUsername and etcdPassword/ },
    { what: "a password without a user", raw: gcpRaw({ etcdPassword: "s3cret-value" }), key: "etcdUsername", message: /required when etcdPassword is set/ },
    { what: "a user without a password", raw: gcpRaw({ etcdUsername: "root" }), key: "etcdPassword", message: /required when etcdUsername is set/ },
    { what: "an SSH tunnel without username", raw: gcpRaw({ sshTunnel: { host: "bastion.example.com", privateKey: TEST_PRIVATE_KEY } }), key: "sshTunnel.username", message: /must be a login name/ },
    { what: "an SSH tunnel port out of range", raw: gcpRaw({ sshTunnel: { host: "10.0.0.1", port: 0, username: "core", privateKey: TEST_PRIVATE_KEY } }), key: "sshTunnel.port", message: /port 1-65535/ },
    { what: "an SSH tunnel field typo", raw: gcpRaw({ sshTunnel: { host: "10.0.0.1", user: "core", username: "core", privateKey: TEST_PRIVATE_KEY } }), key: "sshTunnel.user", message: /unknown field "user"/ },
    // prod rules
    { what: "prod without member protection", raw: prodRaw({ protectMembers: false }), stack: "prod", key: "protectMembers", message: /must be true when environment is prod/ },
    { what: "prod with external IPs", raw: prodRaw({ externalIps: true }), stack: "prod", key: "externalIps", message: /must be false when environment is prod/ },
    { what: "prod with fewer than 3 workers", raw: prodRaw({ workerMin: 2 }), stack: "prod", key: "workerMin", message: /at least 3 workers/ },
    { what: "prod marked dev", raw: prodRaw({ isDev: true }), stack: "prod", key: "isDev", message: /cannot be marked dev/ },
    { what: "prod with SSH open to the world", raw: prodRaw({ sshAllowWorld: true, sshSourceRanges: ["0.0.0.0/0"] }), stack: "prod", key: "sshAllowWorld", message: /cannot be true when environment is prod/ },
    { what: "prod members in a zone that holds a majority", raw: prodRaw({ zones: ["europe-west1-b", "europe-west1-c"] }), stack: "prod", key: "zones", message: /3 in one zone.*tolerate only 2 failures/ },
    { what: "a stack name that is no label, used as environment", raw: gcpRaw({ environment: "" }), stack: "My_Stack", key: "environment", message: /taken from the stack name/ },
    { what: "environment prod taken from the stack name", raw: prodRaw({ environment: undefined, protectMembers: false }), stack: "prod", key: "protectMembers", message: /prod/ },
    // local
    { what: "a local first address outside the private ranges", raw: localRaw({ localFirstAddress: "203.0.113.10" }), stack: "local", key: "localFirstAddress", message: /is not a private \(RFC 1918\) address/ },
    { what: "a loopback local first address (no VPC, no firewall)", raw: localRaw({ localFirstAddress: "127.0.10.10" }), stack: "local", key: "localFirstAddress", message: /is a loopback address; the local platform is a VPC of network namespaces/ },
    { what: "local machines running past .254 of the VPC's /24", raw: localRaw({ localFirstAddress: "10.213.10.252", localWorkers: 2 }), stack: "local", key: "localFirstAddress", message: /must fit \.4-\.254 of its \/24/ },
    { what: "a local data dir escaping the project", raw: localRaw({ localDataDir: "../elsewhere" }), stack: "local", key: "localDataDir", message: /without "\.\." segments/ },
    { what: "local services without a way into the VPC", raw: localRaw({ services: [{ name: "web", scheme: "http", hosts: ["10.213.10.13:8080"] }] }), stack: "local", key: "sshTunnel", message: /no way into the local VPC, whose members answer only inside it/ },
    { what: "a local tunnel to no member", raw: localRaw({ sshTunnel: { host: "10.213.10.13", username: "root", privateKeyEnv: "COREOS_TEST_NO_SUCH_KEY_VAR" } }), stack: "local", key: "sshTunnel.host", message: /10\.213\.10\.13 is no member's address \(10\.213\.10\.10, 10\.213\.10\.11, 10\.213\.10\.12\)/ },
    { what: "a zone not of the local region", raw: localRaw({ zones: ["us-central1-a"] }), stack: "local", key: "zones[0]", message: /not a zone of region local/ },
];

describe("model/validate: each bad input is refused, naming the key", () => {
    for (const c of cases) {
        it(`refuses ${c.what} (coreos-cluster:${c.key})`, () => {
            const result = problemsOf(c.raw, c.stack);
            expect(result.config, "no config when there is a problem").to.equal(undefined);
            const matching = result.problems.filter((p) => p.key === `coreos-cluster:${c.key}`);
            expect(matching, `problems were: ${JSON.stringify(result.problems, null, 1)}`).to.not.be.empty;
            expect(matching.map((p) => p.message).join("\n")).to.match(c.message);
        });
    }
});

describe("model/validate: reporting", () => {
    it("returns every problem at once, not just the first", () => {
        const result = validateConfig(
            gcpRaw({ etcdCount: 4, zones: ["us-east1-b"], subnetCidr: "10.0.0.1/24", sshSourceRanges: ["0.0.0.0/0"], etcdCont: 1 }),
            "dev",
        );
        const keys = result.problems.map((p) => p.key);
        expect(keys).to.include.members([
            "coreos-cluster:etcdCount",
            "coreos-cluster:zones[0]",
            "coreos-cluster:subnetCidr",
            "coreos-cluster:sshSourceRanges",
            "coreos-cluster:etcdCont",
        ]);
    });

    it("loadConfig throws a ConfigValidationError listing every problem with its key", () => {
        try {
            loadConfig(gcpRaw({ etcdCount: 2, project: "" }), "dev");
            expect.fail("loadConfig accepted an invalid config");
        } catch (err) {
            expect(err).to.be.instanceOf(ConfigValidationError);
            const e = err as ConfigValidationError;
            expect(e.problems.map((p) => p.key)).to.have.members(["coreos-cluster:etcdCount", "coreos-cluster:project"]);
            expect(e.message).to.match(/2 problems/).and.to.match(/coreos-cluster:etcdCount: must be odd/);
        }
    });

    it("never echoes a secret value in a message", () => {
        const password = "Pa55-word-never-shown";
        const badKey = "-----BEGIN NOT A KEY-----\nsuper-secret-material-xyz\n";
        const result = validateConfig(
            gcpRaw({ etcdPassword: password, sshTunnel: { host: "10.0.0.1", username: "core", privateKey: badKey } }),
            "dev",
        );
        expect(result.problems.map((p) => p.key)).to.include("coreos-cluster:sshTunnel.privateKey");
        const all = JSON.stringify(result.problems);
        expect(all).to.not.include(password);
        expect(all).to.not.include("super-secret-material-xyz");

        const wrongType = validateConfig(gcpRaw({ etcdUsername: "root", etcdPassword: 12345678 }), "dev");
        expect(wrongType.problems.find((p) => p.key === "coreos-cluster:etcdPassword")?.message).to.equal("must be a string, got a number");
    });

    it("accepts a single member only on a stack marked dev with allowSingleMember", () => {
        const result = validateConfig(gcpRaw({ etcdCount: 1, allowSingleMember: true }), "dev");
        expect(result.problems).to.deep.equal([]);
        expect(result.config!.etcd.count).to.equal(1);
    });

    it("accepts 0.0.0.0/0 as SSH source only with sshAllowWorld outside prod", () => {
        const result = validateConfig(gcpRaw({ sshSourceRanges: ["0.0.0.0/0"], sshAllowWorld: true }), "dev");
        expect(result.problems).to.deep.equal([]);
    });

    it("reports a typo and still maps the rest", () => {
        const result = validateConfig(localRaw({ localWorker: 3 }), "local");
        expect(result.problems).to.deep.equal([
            { key: "coreos-cluster:localWorker", message: 'unknown config key "localWorker"; did you mean "localWorkers"?' },
        ]);
    });
});

describe("model/validate: mapping onto ClusterConfig", () => {
    it("fills defaults and maps every concept", () => {
        const config = loadConfig(gcpRaw(), "dev");
        expect(config.name).to.equal("demo");
        expect(config.environment).to.equal("dev");
        expect(config.isDev).to.equal(true);
        expect(config.gcp).to.deep.equal({
            project: "demo-project",
            region: "europe-west1",
            zones: ["europe-west1-b", "europe-west1-c", "europe-west1-d"],
            subnetCidr: "10.10.0.0/24",
            existingNetwork: undefined,
            existingSubnetwork: undefined,
        });
        expect(config.etcd).to.deep.equal({ count: 3, machineType: "e2-medium", diskSizeGb: 20, version: "v3.5.17", discoveryUrl: undefined, protect: false });
        expect(config.workers).to.deep.equal({ min: 2, max: 4, machineType: "e2-medium", diskSizeGb: 30 });
        expect(config.os).to.deep.equal({ flavor: "flatcar", image: "projects/kinvolk-public/global/images/family/flatcar-stable" });
        expect(config.ssh.sourceRanges).to.deep.equal(["35.235.240.0/20"]);
        expect(config.loadBalancer).to.deep.equal({ httpPorts: [80], tcpPorts: [] });
        expect(config.healthCheck).to.deep.equal({ port: 10256, path: "/healthz" });
        expect(config.updates).to.deep.equal({ rebootStrategy: "etcd-lock", windowStart: undefined, windowLength: undefined });
        expect(config.services[1]).to.deep.equal({ name: "redis", scheme: "tcp", hosts: ["10.10.0.22:6379"], hostPort: 6379 });
        expect(config.fleetUnits[0].instances).to.deep.equal([1, 2]);
        expect(config.servicesPrefix).to.equal("/services");
        expect(config.access).to.deep.equal({ etcdEndpoints: undefined, etcdUsername: undefined, etcdPassword: undefined, sshTunnel: undefined, mirrorToV2: false, clusterWaitSeconds: 600 });
        expect(config.local).to.deep.equal({ firstAddress: "10.213.10.10", workers: 2, dataDir: ".local-machines" });
    });

    it("workerMax 0 means a fixed-size group of workerMin", () => {
        const config = loadConfig(gcpRaw({ workerMin: 3, workerMax: 0 }), "dev");
        expect(config.workers).to.include({ min: 3, max: 3 });
    });

    it("takes the environment from the stack name when unset, and a local zone from the region", () => {
        const config = loadConfig(localRaw({ environment: "" }), "sandbox");
        expect(config.environment).to.equal("sandbox");
        expect(config.gcp.zones).to.deep.equal(["local-a"]);
    });

    it("maps access settings, reboot window and SSH tunnel", () => {
        const config = loadConfig(
            gcpRaw({
                etcdEndpoints: ["https://10.10.0.2:2379"],
                etcdUsername: "root",
                etcdPassword: "pw",
                sshTunnel: { host: "bastion.example.com", username: "core", privateKey: TEST_PRIVATE_KEY },
                rebootWindowStart: "Sun 04:00",
                rebootWindowLength: "1h30m",
                fleetEndpoint: "http://127.0.0.1:49153",
                fleetMetadata: { tier: "edge", disk: "ssd" },
            }),
            "dev",
        );
        expect(config.access.etcdEndpoints).to.deep.equal(["https://10.10.0.2:2379"]);
        expect(config.access.sshTunnel).to.deep.equal({ host: "bastion.example.com", port: 22, username: "core", privateKey: TEST_PRIVATE_KEY });
        expect(config.updates).to.deep.equal({ rebootStrategy: "etcd-lock", windowStart: "Sun 04:00", windowLength: "1h30m" });
        expect(config.fleet).to.deep.equal({
            metadata: { tier: "edge", disk: "ssd" },
            endpoint: "http://127.0.0.1:49153",
            release: { sha256: "7e57".repeat(16), version: "v1.0.0", url: "https://github.com/coreos/fleet/releases/download/v1.0.0/fleet-v1.0.0-linux-amd64.tar.gz" },
        });
    });

    it("accepts encrypted stack-file secrets without exposing them in the offline config", () => {
        const config = loadConfig(
            gcpRaw({ etcdUsername: "root", etcdPassword: { secure: "v1:abc" }, sshTunnel: { host: "10.0.0.1", username: "core", privateKey: { secure: "v1:def" } } }),
            "dev",
        );
        expect(config.access.etcdUsername).to.equal("root");
        expect(config.access.etcdPassword).to.equal(undefined);
        expect(config.access.sshTunnel).to.equal(undefined);
    });

    it("refuses an encrypted value on a key that is not secret", () => {
        const result = validateConfig(gcpRaw({ project: { secure: "v1:abc" } }), "dev");
        expect(result.problems.map((p) => p.key)).to.deep.equal(["coreos-cluster:project"]);
        expect(result.problems[0].message).to.match(/is encrypted/);
    });
});

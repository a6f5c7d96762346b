// Hostile and careless stack configs, by class (issue 22): each is refused with one clear problem
// naming its key, before anything exists. The classes: text that is not one line, URLs outside the
// strict grammar, port collisions across roles, hosts inside the control plane, exposure by
// coverage, unsafe names, reserved units and keyspaces, production by any spelling.
import { expect } from "chai";
import fc from "fast-check";
import { validateConfig } from "../../model/validate";
import { portCollisions } from "../../model/ports";
import { gcpRaw, localRaw, prodRaw, LOCAL_TUNNEL } from "./raw-configs";

interface Case {
    what: string;
    raw: Record<string, unknown>;
    stack?: string;
    key: string;
    message: RegExp;
}

const web = (hosts: string[]) => ({ name: "web", scheme: "http", hosts });
const tcp = (name: string, host_port: number, hosts = ["10.10.0.30:5000"]) => ({ name, scheme: "tcp", hosts, host_port });
const API = { name: "api", image: "nginx:1.27-alpine", containerPort: 80, count: 2 };
const SHA = "7e57".repeat(16);

const textCases: Case[] = [
    ["a line feed", "\n"], ["a carriage return", "\r"], ["NEL", "\u0085"], ["a line separator", "\u2028"], ["a paragraph separator", "\u2029"], ["a NUL", "\u0000"], ["an escape", "\u001b[31m"], ["a bidi override", "\u202e"],
].flatMap(([name, ch]) => [
    { what: `${name} in a fleet release URL`, raw: gcpRaw({ fleetRelease: { sha256: SHA, url: `https://example.com/fleet.tar.gz${ch}- ssh-ed25519 AAAA evil` } }), key: "fleetRelease.url", message: /must be one line of printable text/ },
    { what: `${name} in an SSH key comment`, raw: gcpRaw({ sshAuthorizedKeys: [`ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMm/k7CRRK74CvxYQRAF6M8r6UU99EKvR5TC1tOrV4st ops${ch}evil`] }), key: "sshAuthorizedKeys[0]", message: /must be one line of printable text/ },
]);

const cases: Case[] = [
    ...textCases,
    // Text in other places, one problem each.
    { what: "a line separator in a fleet metadata value", raw: gcpRaw({ fleetMetadata: { tier: "a\u2028b" } }), key: "fleetMetadata.tier", message: /line separator \(U\+2028\)/ },
    { what: "a line feed in a service name", raw: gcpRaw({ services: [{ ...web(["10.10.0.20:80"]), name: "web\nx" }] }), key: "services[0].name", message: /line feed/ },
    { what: "a NEL in a service host", raw: gcpRaw({ services: [web(["10.10.0.20:80\u0085"])] }), key: "services[0].hosts[0]", message: /NEL/ },
    { what: "a line feed in a fleet unit option value", raw: gcpRaw({ fleetUnits: [{ name: "x.service", options: [{ section: "Service", name: "ExecStart", value: "/bin/true\nExecStartPost=/bin/sh" }] }] }), key: "fleetUnits[0].options[0].value", message: /line feed/ },
    { what: "a line separator inside a unit file", raw: gcpRaw({ fleetUnits: [{ name: "x.service", content: "[Service]\nExecStart=/bin/true\u2028ExecStartPost=/bin/sh\n" }] }), key: "fleetUnits[0].content", message: /may hold line feeds and tabs but no other/ },
    { what: "a line feed in the health check path", raw: gcpRaw({ healthCheckPath: "/healthz\nx" }), key: "healthCheckPath", message: /line feed/ },
    { what: "a line feed in a zone", raw: gcpRaw({ zones: ["europe-west1-b\n"] }), key: "zones[0]", message: /line feed/ },
    { what: "a tab in the cluster name", raw: gcpRaw({ clusterName: "demo\t" }), key: "clusterName", message: /a tab/ },
    // URLs: https, strict grammar, no quote, no credentials.
    { what: "a quote in a fleet release URL", raw: gcpRaw({ fleetRelease: { sha256: SHA, url: "https://example.com/f'$(reboot)'.tar.gz" } }), key: "fleetRelease.url", message: /its path may hold only/ },
    { what: "a command substitution in a fleet release URL", raw: gcpRaw({ fleetRelease: { sha256: SHA, url: "https://example.com/$(curl evil)/f.tar.gz" } }), key: "fleetRelease.url", message: /its path may hold only/ },
    { what: "a backtick in a fleet release URL", raw: gcpRaw({ fleetRelease: { sha256: SHA, url: "https://example.com/`id`.tar.gz" } }), key: "fleetRelease.url", message: /its path may hold only/ },
    { what: "a plain-http fleet release URL", raw: gcpRaw({ fleetRelease: { sha256: SHA, url: "http://example.com/f.tar.gz" } }), key: "fleetRelease.url", message: /must use https:\/\//},
    { what: "credentials in a fleet release URL", raw: gcpRaw({ fleetRelease: { sha256: SHA, url: "https://user:pw@example.com/f.tar.gz" } }), key: "fleetRelease.url", message: /carries credentials/ },
    { what: "a query in a fleet release URL", raw: gcpRaw({ fleetRelease: { sha256: SHA, url: "https://example.com/f.tar.gz?x=1&y=2" } }), key: "fleetRelease.url", message: /query or fragment/ },
    { what: "a space in a discovery URL", raw: gcpRaw({ etcdDiscoveryUrl: "https://discovery.etcd.io/abc def" }), key: "etcdDiscoveryUrl", message: /its path may hold only/ },
    { what: "a plain-http discovery URL", raw: gcpRaw({ etcdDiscoveryUrl: "http://discovery.etcd.io/abc" }), key: "etcdDiscoveryUrl", message: /must use https:\/\// },
    { what: "credentials in a discovery URL", raw: gcpRaw({ etcdDiscoveryUrl: "https://a:b@discovery.etcd.io/abc" }), key: "etcdDiscoveryUrl", message: /carries credentials/ },
    { what: "an upper-case host trick in a discovery URL", raw: gcpRaw({ etcdDiscoveryUrl: "https://discovery.etcd.io\\@evil/abc" }), key: "etcdDiscoveryUrl", message: /carries credentials|must be a lowercase DNS name/ },
    { what: "a user in an etcd endpoint", raw: gcpRaw({ etcdEndpoints: ["https://root@10.10.0.2:2379"] }), key: "etcdEndpoints[0]", message: /carries credentials/ },
    { what: "a path in an etcd endpoint", raw: gcpRaw({ etcdEndpoints: ["https://10.10.0.2:2379/v2/keys"] }), key: "etcdEndpoints[0]", message: /with no path/ },
    { what: "a quote in a fleet endpoint", raw: gcpRaw({ fleetEndpoint: "http://127.0.0.1:49153'" }), key: "fleetEndpoint", message: /must have a host and an optional port/ },
    { what: "a shell character in a fleet socket path", raw: gcpRaw({ fleetEndpoint: "unix:///var/run/fleet.sock;reboot" }), key: "fleetEndpoint", message: /must be unix:\/\/\/path\/to\/fleet\.sock/ },
    // Ports: one table, every pair.
    { what: "an HTTP port on the health port", raw: gcpRaw({ healthCheckPort: 80 }), key: "lbHttpPorts[0]", message: /port 80 is a load-balanced HTTP port here and also the worker health check \(healthCheckPort\)/ },
    { what: "the health port on SSH", raw: gcpRaw({ healthCheckPort: 22 }), key: "healthCheckPort", message: /also SSH/ },
    { what: "an HTTP port on DNS", raw: gcpRaw({ lbHttpPorts: [80, 53] }), key: "lbHttpPorts[1]", message: /also the worker's <service>\.local resolver/ },
    { what: "two services on one host_port", raw: gcpRaw({ services: [tcp("a", 7000), tcp("b", 7000)] }), key: "services[1].host_port", message: /port 7000 is the host_port of service "b" here and also the host_port of service "a" \(services\[0\]\.host_port\)/ },
    { what: "an http service's host_port on a load-balanced port", raw: gcpRaw({ services: [{ ...web(["10.10.0.20:8080"]), host_port: 80 }] }), key: "services[0].host_port", message: /also a load-balanced HTTP port \(lbHttpPorts\[0\]\)/ },
    { what: "a public port inside Docker's ephemeral range", raw: gcpRaw({ services: [{ ...tcp("db", 40000), public: true }] }), key: "services[0].host_port", message: /Docker's ephemeral port range/ },
    { what: "a load-balanced TCP port inside Docker's ephemeral range", raw: gcpRaw({ lbTcpPorts: [32768] }), key: "lbTcpPorts[0]", message: /Docker's range for containers' published ports/ },
    { what: "an instance port on etcd's client port", raw: gcpRaw({ fleetServices: [{ name: "api", content: "[Service]\nExecStart=/bin/true\n", instancePort: 2379, count: 1 }] }), key: "fleetServices[0].instancePort", message: /also the etcd client port/ },
    { what: "an instance port on a service's host_port", raw: gcpRaw({ fleetServices: [{ name: "api", content: "[Service]\nExecStart=/bin/true\n", instancePort: 6379, count: 1 }] }), key: "fleetServices[0].instancePort", message: /also the host_port of service "redis"/ },
    { what: "a host_port on the etcd peer port", raw: gcpRaw({ services: [tcp("a", 2380)] }), key: "services[0].host_port", message: /also the etcd peer port/ },
    { what: "a host_port on a system port", raw: gcpRaw({ services: [tcp("a", 25)] }), key: "services[0].host_port", message: /25 is a system port/ },
    { what: "a load-balanced TCP port on a system port", raw: gcpRaw({ lbTcpPorts: [111] }), key: "lbTcpPorts[0]", message: /111 is a system port/ },
    { what: "a fleet service hostPort on an HTTP port", raw: gcpRaw({ fleetServices: [{ ...API, scheme: "tcp", hostPort: 80 }] }), key: "fleetServices[0].hostPort", message: /also a load-balanced HTTP port/ },
    { what: "443 in the HTTP ports (plain HTTP on the TLS port)", raw: gcpRaw({ lbHttpPorts: [80, 443] }), key: "lbHttpPorts[1]", message: /443 is the HTTPS port, and the router serves plain HTTP only/ },
    // Hosts: never the control plane.
    { what: "a loopback host", raw: gcpRaw({ services: [web(["127.0.0.1:8080"])] }), key: "services[0].hosts[0]", message: /loopback/ },
    { what: "another loopback host", raw: gcpRaw({ services: [web(["127.1.2.3:8080"])] }), key: "services[0].hosts[0]", message: /loopback/ },
    { what: "the metadata server", raw: gcpRaw({ services: [web(["169.254.169.254:80"])] }), key: "services[0].hosts[0]", message: /link-local \(169\.254\.0\.0\/16\), where the metadata server answers/ },
    { what: "the unspecified address", raw: gcpRaw({ services: [web(["0.0.0.0:8080"])] }), key: "services[0].hosts[0]", message: /unspecified/ },
    { what: "a multicast host", raw: gcpRaw({ services: [web(["239.1.1.1:8080"])] }), key: "services[0].hosts[0]", message: /multicast/ },
    { what: "the broadcast address", raw: gcpRaw({ services: [web(["255.255.255.255:8080"])] }), key: "services[0].hosts[0]", message: /broadcast/ },
    { what: "a member's client port", raw: gcpRaw({ services: [web(["10.10.0.2:2379"])] }), key: "services[0].hosts[0]", message: /an etcd member's address/ },
    { what: "any port on a member", raw: gcpRaw({ services: [web(["10.10.0.3:8080"])] }), key: "services[0].hosts[0]", message: /an etcd member's address/ },
    { what: "a worker's health port", raw: gcpRaw({ services: [web(["10.10.0.40:10256"])] }), key: "services[0].hosts[0]", message: /port 10256, the worker health check/ },
    { what: "a host's SSH port", raw: gcpRaw({ services: [web(["10.10.0.40:22"])] }), key: "services[0].hosts[0]", message: /port 22, SSH/ },
    { what: "a local member", raw: localRaw({ services: [web(["10.213.10.11:8080"])], sshTunnel: LOCAL_TUNNEL }), stack: "local", key: "services[0].hosts[0]", message: /an etcd member's address/ },
    { what: "the subnet's gateway", raw: gcpRaw({ services: [web(["10.10.0.1:8080"])] }), key: "services[0].hosts[0]", message: /the subnet's gateway \(GCE reserves it\)/ },
    { what: "the subnet's broadcast address", raw: gcpRaw({ services: [web(["10.10.0.255:8080"])] }), key: "services[0].hosts[0]", message: /broadcast address/ },
    { what: "the local load balancer as a backend (a loop)", raw: localRaw({ services: [web(["10.213.10.2:80"])], sshTunnel: LOCAL_TUNNEL }), stack: "local", key: "services[0].hosts[0]", message: /the local VPC's load balancer/ },
    { what: "an IPv6 host", raw: gcpRaw({ services: [web(["[fd00::1]:8080"])] }), key: "services[0].hosts[0]", message: /is not ip:port/ },
    { what: "a leading-zero address", raw: gcpRaw({ services: [web(["010.10.0.20:8080"])] }), key: "services[0].hosts[0]", message: /is not ip:port/ },
    // Exposure by coverage.
    { what: "SSH to the internet in two halves", raw: gcpRaw({ sshSourceRanges: ["0.0.0.0/1", "128.0.0.0/1"] }), key: "sshSourceRanges", message: /opens SSH to the internet: 0\.0\.0\.0\/1, 128\.0\.0\.0\/1 admit 100%/ },
    { what: "SSH to the internet in quarters", raw: gcpRaw({ sshSourceRanges: ["0.0.0.0/2", "64.0.0.0/2", "128.0.0.0/2", "192.0.0.0/2"] }), key: "sshSourceRanges", message: /opens SSH to the internet/ },
    { what: "SSH to half the internet", raw: gcpRaw({ sshSourceRanges: ["128.0.0.0/1"] }), key: "sshSourceRanges", message: /opens SSH to the internet/ },
    { what: "SSH to a few /8s", raw: gcpRaw({ sshSourceRanges: ["1.0.0.0/8", "2.0.0.0/8"] }), key: "sshSourceRanges", message: /opens SSH to the internet/ },
    // Names and keyspaces.
    { what: "__proto__ as a fleet metadata key", raw: gcpRaw({ fleetMetadata: JSON.parse('{"__proto__": "x"}') }), key: "fleetMetadata.__proto__", message: /reaches the object's prototype/ },
    { what: "constructor as a fleet metadata key", raw: gcpRaw({ fleetMetadata: { constructor: "x" } }), key: "fleetMetadata.constructor", message: /reaches the object's prototype/ },
    { what: "__proto__ as a service field", raw: gcpRaw({ services: [JSON.parse('{"name":"web","scheme":"http","hosts":["10.10.0.20:80"],"__proto__":{"public":true}}')] }), key: "services[0].__proto__", message: /reaches the object's prototype/ },
    { what: "a unit named like docker's", raw: gcpRaw({ fleetUnits: [{ name: "docker.service", options: [{ section: "Service", name: "ExecStart", value: "/bin/true" }] }] }), key: "fleetUnits[0].name", message: /would shadow the machines' own unit docker/ },
    { what: "a unit named like sshd's template", raw: gcpRaw({ fleetUnits: [{ name: "sshd@.service", content: "[Service]\nExecStart=/bin/true\n" }] }), key: "fleetUnits[0].name", message: /shadow the machines' own unit sshd/ },
    { what: "a unit named like a systemd unit", raw: gcpRaw({ fleetUnits: [{ name: "systemd-resolved.service", options: [{ section: "Service", name: "ExecStart", value: "/bin/true" }] }] }), key: "fleetUnits[0].name", message: /shadow/ },
    { what: "a unit named like the router", raw: gcpRaw({ fleetUnits: [{ name: "coreos-router.service", options: [{ section: "Service", name: "ExecStart", value: "/bin/true" }] }] }), key: "fleetUnits[0].name", message: /shadow/ },
    { what: "a unit named like the etcd member", raw: gcpRaw({ fleetUnits: [{ name: "etcd-member.service", options: [{ section: "Service", name: "ExecStart", value: "/bin/true" }] }] }), key: "fleetUnits[0].name", message: /shadow/ },
    { what: "a unit named like locksmith", raw: gcpRaw({ fleetUnits: [{ name: "LOCKSMITHD.service", options: [{ section: "Service", name: "ExecStart", value: "/bin/true" }] }] }), key: "fleetUnits[0].name", message: /shadow/ },
    ...["user-cloudinit@.service", "user-config.target", "google-guest-agent.service", "afterburn.service", "tmp.mount", "var-lib-docker.mount", "-.mount"].map((name) => ({
        what: `a unit named ${name}`,
        raw: gcpRaw({ fleetUnits: [{ name, options: [{ section: "Unit", name: "Description", value: "x" }] }] }),
        key: "fleetUnits[0].name",
        message: /would (?:shadow|mount over) the machines' own/,
    })),
    { what: "a fleet service named like the getty template", raw: gcpRaw({ fleetServices: [{ ...API, name: "getty" }] }), key: "fleetServices[0].name", message: /shadow the machines' own unit getty/ },
    { what: "a services prefix in fleet's keyspace", raw: gcpRaw({ servicesPrefix: "/_coreos.com/fleet" }), key: "servicesPrefix", message: /fleet's registry/ },
    { what: "a services prefix in locksmith's keyspace", raw: gcpRaw({ servicesPrefix: "/coreos.com/updateengine/rebootlock" }), key: "servicesPrefix", message: /locksmith's reboot semaphore/ },
    { what: "a services prefix above fleet's keyspace", raw: gcpRaw({ servicesPrefix: "/_coreos.com" }), key: "servicesPrefix", message: /overlaps \/_coreos\.com/ },
    { what: "a services prefix in etcd's v2 API path", raw: gcpRaw({ servicesPrefix: "/v2/keys" }), key: "servicesPrefix", message: /overlaps \/v2/ },
    // Production by any spelling.
    { what: "protectMembers false under production", raw: prodRaw({ environment: "production", protectMembers: false }), key: "protectMembers", message: /must be true when environment is prod/ },
    { what: "sshAllowWorld under prod-eu", raw: prodRaw({ environment: "prod-eu", sshAllowWorld: true }), key: "sshAllowWorld", message: /cannot be true when environment is prod/ },
    { what: "external IPs under eu-prd", raw: prodRaw({ environment: "eu-prd", externalIps: true }), key: "externalIps", message: /must be false when environment is prod/ },
    { what: "a single worker under live", raw: prodRaw({ environment: "live", workerMin: 1 }), key: "workerMin", message: /prod needs at least 3 workers/ },
    { what: "isDev under production", raw: gcpRaw({ environment: "production", isDev: true }), key: "isDev", message: /environment is production \("production"\) cannot be marked dev/ },
    { what: "an upper-case Prod", raw: gcpRaw({ environment: "Prod" }), key: "environment", message: /must be a label/ },
    { what: "a prod stack whose environment says eu", raw: prodRaw({ environment: "eu", sshAllowWorld: true }), stack: "prod", key: "sshAllowWorld", message: /cannot be true when environment is prod/ },
    { what: "a stack named prodeu without an environment", raw: prodRaw({ environment: undefined, protectMembers: false }), stack: "prod-eu", key: "protectMembers", message: /must be true when environment is prod/ },
    { what: "environment production on a stack named main", raw: prodRaw({ environment: "production", externalIps: true }), stack: "main", key: "externalIps", message: /must be false when environment is prod/ },
    // coreos-cloudinit's substitutions and systemd's specifiers.
    { what: "$public_ipv4 inside an SSH key comment", raw: gcpRaw({ sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMm/k7CRRK74CvxYQRAF6M8r6UU99EKvR5TC1tOrV4st ops@exam$public_ipv4ple.com"] }), key: "sshAuthorizedKeys[0]", message: /coreos-cloudinit replaces in the whole user-data/ },
    { what: "$private_ipv4 in fleet metadata", raw: gcpRaw({ fleetMetadata: { tier: "a$private_ipv4" } }), key: "fleetMetadata.tier", message: /coreos-cloudinit replaces/ },
    { what: "a percent-escape in a discovery URL", raw: gcpRaw({ etcdDiscoveryUrl: "https://discovery.etcd.io/abc%2F" }), key: "etcdDiscoveryUrl", message: /no escapes/ },
    { what: "a GCE tunnel user other than core", raw: gcpRaw({ sshTunnel: { host: "localhost", port: 2222, username: "root", privateKeyEnv: "K" } }), key: "sshTunnel.username", message: /must be core on platform gcp/ },
    // Grammars of other strings.
    { what: "a non-ASCII SSH key comment", raw: gcpRaw({ sshAuthorizedKeys: ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIMm/k7CRRK74CvxYQRAF6M8r6UU99EKvR5TC1tOrV4st ops\u00a0evil"] }), key: "sshAuthorizedKeys[0]", message: /optional comment of printable ASCII/ },
    { what: "a shell character in the SSH tunnel user", raw: gcpRaw({ sshTunnel: { host: "localhost", port: 2222, username: "core;id", privateKeyEnv: "K" } }), key: "sshTunnel.username", message: /must be a login name/ },
    { what: "a quote in the OS image", raw: gcpRaw({ osImage: "projects/x/global/images/family/flatcar'" }), key: "osImage", message: /must be a GCE resource name/ },
    { what: "a space in the existing network", raw: gcpRaw({ existingNetwork: "default net" }), key: "existingNetwork", message: /must be a GCE resource name/ },
    { what: "a query in the health path", raw: gcpRaw({ healthCheckPath: "/healthz?x=1" }), key: "healthCheckPath", message: /must be an absolute HTTP path of letters/ },
    { what: "a quote in the health path", raw: gcpRaw({ healthCheckPath: "/health\"z" }), key: "healthCheckPath", message: /must be an absolute HTTP path of letters/ },
    { what: "a shell character in the local data dir", raw: localRaw({ localDataDir: ".local$(id)" }), stack: "local", key: "localDataDir", message: /must be a folder path of/ },
    { what: "a space in the etcd username", raw: gcpRaw({ etcdUsername: "root x", etcdPassword: { secure: "v1:abc" } }), key: "etcdUsername", message: /must be 1-64 of/ },
];

describe("model/validate: hostile and careless input, refused by class (issue 22)", () => {
    for (const c of cases) {
        it(`refuses ${c.what} (coreos-cluster:${c.key})`, () => {
            const result = validateConfig(c.raw, c.stack ?? (c.raw.environment === "prod" ? "prod" : "dev"));
            expect(result.config, "no config when there is a problem").to.equal(undefined);
            const matching = result.problems.filter((p) => p.key === `coreos-cluster:${c.key}`);
            expect(matching.map((p) => p.message).join("\n"), `problems were: ${JSON.stringify(result.problems, null, 1)}`).to.match(c.message);
            // One clear problem for the key, not one per rule that trips over the same value.
            expect(matching, JSON.stringify(matching)).to.have.length(1);
        });
    }

    it("never echoes a raw control character in a message", () => {
        for (const c of textCases) {
            for (const p of validateConfig(c.raw, "dev").problems) expect(p.message).to.not.match(/[\u0000-\u001f\u0085\u2028\u2029]/);
        }
    });

    it("never shows a credential given inside a URL, whatever else is wrong with it", () => {
        const withSecret = (url: string) => [
            gcpRaw({ etcdEndpoints: [url] }),
            gcpRaw({ etcdDiscoveryUrl: url }),
            gcpRaw({ fleetRelease: { sha256: SHA, url } }),
            gcpRaw({ fleetEndpoint: url }),
        ];
        for (const url of ["https://root:hunter2@10.10.0.2:2379", "ftp://u:hunter2@x/y", "https://u:hun@ter2@x:1/", "https://u:hunter2@X_Y:99999/a b?c"]) {
            for (const raw of withSecret(url)) {
                const problems = validateConfig(raw, "dev").problems;
                expect(problems, url).to.not.be.empty;
                for (const p of problems) expect(p.message, url).to.not.match(/hunter2|ter2@|hun@/);
            }
        }
    });

    it("never shows a credential or a discovery token, in any key's message", () => {
        const token = "4f0c1d7e9a2b4c6d8e0f1a3b5c7d9e1f";
        const raws = [
            gcpRaw({ sshTunnel: { host: "core:Sup3rS3cret@bastion.example.com", port: 2222, username: "core", privateKeyEnv: "K" } }),
            gcpRaw({ fleetEndpoint: "unix://admin:Sup3rS3cret@/var/run/fleet.sock" }),
            gcpRaw({ etcdDiscoveryUrl: `http://discovery.etcd.io/${token}` }),
            gcpRaw({ etcdDiscoveryUrl: `https://discovery.etcd.io/${token}?size=3` }),
            gcpRaw({ etcdDiscoveryUrl: `https://discovery.etcd.io/${token}%2F` }),
        ];
        for (const raw of raws) {
            const problems = validateConfig(raw, "dev").problems;
            expect(problems, JSON.stringify(raw)).to.not.be.empty;
            for (const p of problems) expect(p.message).to.not.match(/Sup3rS3cret|4f0c1d7e/);
        }
    });

    it("still accepts the shipped stacks and what the classes leave alone", () => {
        const ok = [
            gcpRaw(),
            gcpRaw({ sshSourceRanges: ["35.235.240.0/20", "203.0.113.0/24"] }),
            gcpRaw({ fleetRelease: { sha256: SHA, url: "https://github.com/coreos/fleet/releases/download/v1.0.0/fleet-v1.0.0-linux-amd64.tar.gz" } }),
            gcpRaw({ etcdEndpoints: ["https://10.10.0.2:2379", "http://10.10.0.3:2379"] }),
            gcpRaw({ environment: "staging" }),
            gcpRaw({ fleetServices: [{ ...API, scheme: "tcp", hostPort: 7000 }], lbTcpPorts: [7000] }),
            gcpRaw({ services: [web(["203.0.113.7:443"])] }),
        ];
        for (const raw of ok) expect(validateConfig(raw, "dev").problems, JSON.stringify(raw)).to.deep.equal([]);
    });
});

describe("model/ports: the collision sweep finds exactly the overlapping pairs", () => {
    it("agrees with checking every pair", () => {
        const claim = fc.record({ first: fc.integer({ min: 1, max: 60 }), len: fc.integer({ min: 0, max: 5 }), group: fc.option(fc.constantFrom("a", "b")) });
        fc.assert(
            fc.property(fc.array(claim, { maxLength: 25 }), (raw) => {
                const claims = raw.map((c, i) => ({ key: `k${i}`, role: "r", first: c.first, last: c.first + c.len, ...(c.group ? { shareGroup: c.group } : {}) }));
                const expected: string[] = [];
                for (let j = 0; j < claims.length; j++) {
                    for (let i = 0; i < j; i++) {
                        const [a, b] = [claims[i], claims[j]];
                        if (a.shareGroup !== undefined && a.shareGroup === b.shareGroup) continue;
                        if (a.first <= b.last && b.first <= a.last) expected.push(`${a.key}-${b.key}`);
                    }
                }
                expect(portCollisions(claims).map(([a, b]) => `${a.key}-${b.key}`)).to.deep.equal(expected);
            }),
            { numRuns: 300, seed: 22 },
        );
    });
});

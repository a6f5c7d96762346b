// The container images the machines run, pinned by digest, and where a machine pulls them from
// (issue 23, item 4). A worker pulls each image once, by digest, through the stack's registry
// mirror, never anonymously from Docker Hub through the NAT's shared address (Docker Hub counts
// anonymous pulls per address). Once a digest is on the machine, no restart touches a registry
// again: the pinned digest is exactly what `docker run` finds locally (static stability).
// No imports: pure, bundled with the rest of model/.

/** An image as Docker Hub names it, with the tag for readers and the digest that decides. */
export interface PinnedImage {
    /** Docker Hub repository, `library/<name>` for official images. */
    repository: string;
    tag: string;
    /** The multi-platform index digest (what `docker pull <image>@<digest>` resolves on any arch). */
    digest: string;
    /** Where the digest was read, so the next person can check it and bump it. */
    source: string;
}

/**
 * HAProxy 3.4, the current LTS (Docker Hub's `lts` tag points at 3.4.4), on Debian trixie. Its
 * STOPSIGNAL is SIGUSR1, which the router overrides (model/router-contract.ts ROUTER_STOP_SIGNAL).
 */
export const HAPROXY_IMAGE: PinnedImage = {
    repository: "library/haproxy",
    tag: "3.4.4-trixie",
    digest: "sha256:0e81cf4a7fac4f689289ae2afd29e1153e9e6d69ae3fb0c1f0345f998643c258",
    source: "github.com/docker-library/repo-info repos/haproxy/remote/3.4.4-trixie.md at 88d2187 (build of 27 Aug 2026)",
};

/** Node.js 24, the current LTS line (Docker Hub's `lts-trixie-slim` was 24.19.0); only its /usr/local is used. */
export const NODE_IMAGE: PinnedImage = {
    repository: "library/node",
    tag: "24.19.0-trixie-slim",
    digest: "sha256:ab3eebe934147fee049b5eb83c570f68c849a13c930bdfa482de99fcdfa3b3de",
    source: "github.com/docker-library/repo-info repos/node/remote/24.19.0-trixie-slim.md at e2e9704 (build of 25 Aug 2026)",
};

/**
 * Fluent Bit, the journal shipper on every machine (cloud-config/log-shipper.ts): its systemd input
 * and Stackdriver (Cloud Logging) output. Published by the Fluent project as `fluent/fluent-bit` on
 * Docker Hub and as cr.fluentbit.io/fluent/fluent-bit; the digest was read from a third party's pin
 * of the same tag, not pulled here (no registry is reachable from the build machine): check it with
 * `docker buildx imagetools inspect fluent/fluent-bit:4.1.1` before a first production up.
 */
export const FLUENT_BIT_IMAGE: PinnedImage = {
    repository: "fluent/fluent-bit",
    tag: "4.1.1",
    digest: "sha256:2a5cb41f99b7c5f3386bb34d42ce3b19eb47fbef6d93b64c0bd4afe9e6ec389c",
    source: "a pin of cr.fluentbit.io/fluent/fluent-bit:4.1.1 found in a public repository's test (not verified against the registry here)",
};

/** The router's images, in the order the unit needs them. */
export const ROUTER_IMAGES: readonly PinnedImage[] = [NODE_IMAGE, HAPROXY_IMAGE];

/** The `imageMirror` value that means "straight from Docker Hub" (refused in production). */
export const DOCKER_HUB = "docker.io";

/** Artifact Registry's Docker hosts: `<location>-docker.pkg.dev`. The VM's own token opens them. */
const ARTIFACT_REGISTRY_HOST = /^[a-z0-9-]+-docker\.pkg\.dev$/;

/** The id of the remote repository a GCE stack creates when it is given no mirror (AR ids: a-z, 0-9, -; 63 at most). */
export function stackMirrorRepositoryId(clusterName: string): string {
    return `${clusterName}-dockerhub`;
}

/** `<region>-docker.pkg.dev/<project>/<cluster>-dockerhub`: the stack's own Docker Hub mirror. */
export function stackMirrorPrefix(clusterName: string, project: string, region: string): string {
    return `${region}-docker.pkg.dev/${project}/${stackMirrorRepositoryId(clusterName)}`;
}

/**
 * Where the machines pull Docker Hub images from: the configured mirror, `docker.io` itself, or
 * (empty on GCE) the stack's own remote repository. The local platform pulls nothing (it runs the
 * machine's own node and Debian's HAProxy), so its text names Docker Hub only as a label.
 */
export function registryPrefix(mirror: string | undefined, cluster: { name: string; platform: string; project: string; region: string }): string {
    if (mirror) return mirror;
    return cluster.platform === "gcp" ? stackMirrorPrefix(cluster.name, cluster.project, cluster.region) : DOCKER_HUB;
}

/** `<prefix>/library/haproxy:3.4.4-trixie@sha256:...`: the tag is for readers, the digest is what Docker resolves. */
export function imageReference(image: PinnedImage, prefix: string): string {
    return `${prefix}/${image.repository}:${image.tag}@${image.digest}`;
}

/** The registry host of a prefix (`europe-west1-docker.pkg.dev`, `mirror.example.com:5000`). */
export function registryHost(prefix: string): string {
    return prefix.split("/")[0];
}

/** Artifact Registry wants the VM's token (its service account holds reader on the repository); other mirrors are read anonymously. */
export function registryNeedsVmToken(prefix: string): boolean {
    return ARTIFACT_REGISTRY_HOST.test(registryHost(prefix));
}

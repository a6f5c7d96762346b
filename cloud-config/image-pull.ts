// The router's images reach a worker once, by digest, through the stack's registry mirror
// (model/images.ts, issue 23 item 4). The unit's first step runs this script: an image already on
// the machine is never pulled again (a restart, a reboot, a registry outage touch no registry); a
// missing one is pulled by its digest, after a login with the VM's own token when the mirror is
// Artifact Registry. The token goes to docker on stdin into a throwaway config dir on tmpfs, never on
// a command line, in the journal or on disk. Pure: text only.
import { imageReference, PinnedImage, registryHost, registryNeedsVmToken } from "../model/images";
import { WriteFileSpec } from "./model";
import { GCE_METADATA_URL } from "./tls-fetch";

export const IMAGE_PULL_SCRIPT = "/opt/coreos-router/pull-images";

const SCRIPT = `#!/bin/bash
# pull-images <registry host to log in to, or ""> <image@sha256:...>...  (cloud-config/image-pull.ts)
set -euo pipefail
log() { echo "pull-images: $*" >&2; }
(( $# >= 2 )) || { log "usage: pull-images <login host or \"\"> <image>..."; exit 2; }
login="$1"; shift
missing=()
for ref in "$@"; do
  [[ $ref =~ ^[a-z0-9.:/_-]+@sha256:[0-9a-f]{64}$ || $ref =~ ^[a-z0-9.:/_-]+:[A-Za-z0-9._-]+@sha256:[0-9a-f]{64}$ ]] || { log "refusing $ref: not pinned by digest"; exit 2; }
  # Present by digest: nothing to fetch, whatever the registry's state.
  docker image inspect "$ref" >/dev/null 2>&1 || missing+=("$ref")
done
(( \${#missing[@]} == 0 )) && exit 0
conf=$(mktemp -d /run/coreos-router-docker.XXXXXX)
trap 'rm -rf "$conf"' EXIT
if [[ -n $login ]]; then
  [[ $login =~ ^[a-z0-9-]+-docker\\.pkg\\.dev$ ]] || { log "refusing to send the VM's token to $login"; exit 2; }
  answer=$(curl -sS --fail --connect-timeout 5 --max-time 20 -H 'Metadata-Flavor: Google' \\
    "${GCE_METADATA_URL}/computeMetadata/v1/instance/service-accounts/default/token") || { log "no token from the metadata server"; exit 1; }
  token=$(printf '%s' "$answer" | tr -d '[:space:]' | sed -n 's#.*"access_token":"\\([^"]*\\)".*#\\1#p')
  [[ $token =~ ^[A-Za-z0-9._~+/=-]+$ ]] || { log "no access token in the metadata server's answer"; exit 1; }
  printf '%s' "$token" | docker --config "$conf" login -u oauth2accesstoken --password-stdin "https://$login" >/dev/null || { log "login to $login refused"; exit 1; }
fi
for ref in "\${missing[@]}"; do
  log "pulling $ref"
  docker --config "$conf" pull "$ref" >/dev/null || { log "pull of $ref failed (the unit retries with backoff)"; exit 1; }
done
`;

export function imagePullScript(): WriteFileSpec {
    return { path: IMAGE_PULL_SCRIPT, permissions: "0755", owner: "root:root", content: SCRIPT };
}

/** The unit variable naming the registry host the script logs in to ("" for none). */
export const IMAGE_LOGIN_VARIABLE = "COREOS_REGISTRY_LOGIN";

/**
 * The unit's image variables: the login host, then one variable per image with its full reference.
 * Config values (the mirror, the project, the cluster's name) reach the unit only as these quoted
 * Environment= values; the command lines name the variables (cloud-config/environment.ts).
 */
export function imageEnvironment(images: ReadonlyArray<{ variable: string; image: PinnedImage }>, prefix: string): Array<[string, string]> {
    return [[IMAGE_LOGIN_VARIABLE, registryNeedsVmToken(prefix) ? registryHost(prefix) : ""], ...images.map(({ variable, image }): [string, string] => [variable, imageReference(image, prefix)])];
}

/** The ExecStartPre line that makes sure every image is on the machine. */
export function imagePullCommand(variables: readonly string[]): string {
    return `ExecStartPre=${IMAGE_PULL_SCRIPT} \${${IMAGE_LOGIN_VARIABLE}} ${variables.map((v) => `\${${v}}`).join(" ")}`;
}

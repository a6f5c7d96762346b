// The stack's own Docker Hub mirror (issue 23, item 4): an Artifact Registry remote repository in the
// cluster's region that pulls from Docker Hub once and serves every worker from its cache, so workers
// never pull anonymously through the NAT's shared address, and a Docker Hub outage or limit does not
// stop an image that is already cached. The workers' service account may read this repository and
// nothing else of Artifact Registry (one IAM member on the repository, none on the project).
// Created only when the stack names no mirror of its own (imageMirror empty).
import * as pulumi from "@pulumi/pulumi";
import * as gcp from "@pulumi/gcp";
import { ClusterConfig } from "../../model/types";
import { stackMirrorRepositoryId } from "../../model/images";
import { resourceLabels } from "./labels";

export interface ImageMirrorArgs {
    config: ClusterConfig;
    /** The workers' service account, the repository's only reader. */
    readerEmail: pulumi.Input<string>;
}

/** Whether the stack creates its own mirror: on GCE, when imageMirror names none. */
export function createsImageMirror(config: ClusterConfig): boolean {
    return config.platform === "gcp" && !config.images?.mirror;
}

export class ImageMirror extends pulumi.ComponentResource {
    public readonly repository: gcp.artifactregistry.Repository;
    public readonly readerBinding: gcp.artifactregistry.RepositoryIamMember;

    constructor(name: string, args: ImageMirrorArgs, opts?: pulumi.ComponentResourceOptions) {
        super("coreos-cluster:index:ImageMirror", name, {}, opts);
        const { config } = args;
        const { project, region } = config.gcp;
        this.repository = new gcp.artifactregistry.Repository(
            name,
            {
                project,
                location: region,
                repositoryId: stackMirrorRepositoryId(config.name),
                format: "DOCKER",
                mode: "REMOTE_REPOSITORY",
                description: "Docker Hub, cached for the cluster's workers (coreos-cluster imageMirror)",
                remoteRepositoryConfig: { description: "Docker Hub", dockerRepository: { publicRepository: "DOCKER_HUB" } },
                labels: resourceLabels(config, "worker"),
            },
            { parent: this },
        );
        this.readerBinding = new gcp.artifactregistry.RepositoryIamMember(
            `${name}-worker-reader`,
            {
                project,
                location: region,
                repository: this.repository.repositoryId,
                role: "roles/artifactregistry.reader",
                member: pulumi.interpolate`serviceAccount:${args.readerEmail}`,
            },
            { parent: this },
        );
        this.registerOutputs({ repository: this.repository.id });
    }
}

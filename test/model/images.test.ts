// imageMirror (issue 23, item 4): one rule (text-rules.ts registryPrefixProblem) through the config
// validator, Docker Hub refused in prod, and where the machines pull from (model/images.ts).
import { expect } from "chai";
import { validateConfig } from "../../model/validate";
import { registryPrefixProblem } from "../../model/text-rules";
import { DOCKER_HUB, HAPROXY_IMAGE, imageReference, NODE_IMAGE, registryNeedsVmToken, registryPrefix, stackMirrorPrefix } from "../../model/images";
import { gcpRaw } from "./raw-configs";

const problemsOf = (raw: Record<string, unknown>, stack = "dev") => validateConfig(raw, stack).problems.filter((p) => p.key === "coreos-cluster:imageMirror").map((p) => p.message);

describe("model/images: the router's images and the registry mirror", () => {
    it("accepts registry prefixes Docker reads: Artifact Registry, a host with a port, docker.io", () => {
        for (const ok of ["europe-west1-docker.pkg.dev/my-project/dockerhub", "mirror.example.com:5000/hub", "mirror.example.com", "docker.io", "europe-docker.pkg.dev/p/r/sub_dir"]) {
            expect(registryPrefixProblem(ok), ok).to.equal(undefined);
        }
    });

    it("refuses a scheme, credentials, a digest or tag, upper case, a trailing slash, shell text and line breaks", () => {
        for (const bad of ["https://mirror.example.com/hub", "user:pw@mirror.example.com/hub", "mirror.example.com/hub@sha256:00", "mirror.example.com/hub:latest", "Mirror.example.com/hub", "mirror.example.com/hub/", "mirror.example.com/$(reboot)", "mirror.example.com/hub\nx", "mirror/hub", "mirror.example.com:70000/hub", "mirror.example.com/a b"]) {
            expect(registryPrefixProblem(bad), bad).to.be.a("string");
        }
        // Credentials are never echoed.
        expect(registryPrefixProblem("user:secretpw@mirror.example.com/hub")).to.not.contain("secretpw");
    });

    it("the validator applies the rule to imageMirror and names the key", () => {
        expect(problemsOf(gcpRaw({ imageMirror: "https://mirror.example.com/hub" }))).to.have.length(1);
        expect(problemsOf(gcpRaw({ imageMirror: "mirror.example.com/hub" }))).to.deep.equal([]);
        expect(validateConfig(gcpRaw({ imageMirror: "mirror.example.com/hub" }), "dev").config?.images).to.deep.equal({ mirror: "mirror.example.com/hub" });
        expect(validateConfig(gcpRaw(), "dev").config?.images).to.deep.equal({ mirror: "" });
    });

    it("prod refuses Docker Hub itself (one NAT address, Docker Hub's per-address limit), and allows it on dev", () => {
        const prod = { environment: "prod", isDev: false, protectMembers: true, externalIps: false, workerMin: 3, etcdCount: 5 };
        expect(problemsOf(gcpRaw({ ...prod, imageMirror: DOCKER_HUB }), "prod").join()).to.contain("must not be Docker Hub in prod");
        expect(problemsOf(gcpRaw({ ...prod, imageMirror: "docker.io/library" }), "prod")).to.have.length(1);
        expect(problemsOf(gcpRaw({ imageMirror: DOCKER_HUB }))).to.deep.equal([]);
    });

    it("where machines pull from: the stack's own mirror on GCE unless one is named", () => {
        const cluster = { name: "demo", platform: "gcp", project: "p1", region: "us-central1" };
        expect(registryPrefix("", cluster)).to.equal(stackMirrorPrefix("demo", "p1", "us-central1"));
        expect(registryPrefix("", cluster)).to.equal("us-central1-docker.pkg.dev/p1/demo-dockerhub");
        expect(registryPrefix("mirror.example.com/hub", cluster)).to.equal("mirror.example.com/hub");
        expect(registryNeedsVmToken("us-central1-docker.pkg.dev/p1/demo-dockerhub")).to.equal(true);
        expect(registryNeedsVmToken("mirror.example.com/hub")).to.equal(false);
        expect(registryNeedsVmToken("docker.pkg.dev.evil.example.com/x")).to.equal(false);
    });

    it("every reference carries its digest (the tag is only for readers)", () => {
        for (const image of [HAPROXY_IMAGE, NODE_IMAGE]) {
            expect(imageReference(image, "m.example.com/hub")).to.match(/^m\.example\.com\/hub\/library\/[a-z]+:[0-9a-z.-]+@sha256:[0-9a-f]{64}$/);
            expect(image.source).to.match(/docker-library\/repo-info/);
        }
    });
});

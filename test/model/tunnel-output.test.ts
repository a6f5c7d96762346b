// The sshTunnel stack output (issue 23, item 8): on GCE a loopback host is the local end of an IAP
// tunnel, and the output says so and how to open it; a bastion and the local platform are unchanged.
import { expect } from "chai";
import { IAP_TUNNEL_ROLE, tunnelOutput } from "../../model/tunnel-output";
import { gcpConfig, localConfig, planFor } from "../cloud-config/fixtures";

const tunnel = { host: "localhost", port: 2222, username: "core", privateKeyEnv: "COREOS_CLUSTER_SSH_KEY" } as never;

describe("model/tunnel-output: what sshTunnel tells another stack or an operator", () => {
    it("GCE, loopback host: the member behind it, its zone and project, the gcloud command and the IAP role; never a key", () => {
        const config = gcpConfig();
        const plan = planFor(config);
        const out = tunnelOutput(tunnel, config, plan)!;
        expect(out).to.deep.include({ host: "localhost", port: 2222, username: "core" });
        expect(out.iap).to.deep.include({ instance: plan.members[0].name, zone: plan.members[0].zone, project: "demo-project", remotePort: 22, requiredRole: IAP_TUNNEL_ROLE });
        expect(out.iap!.command).to.equal(`gcloud compute start-iap-tunnel ${plan.members[0].name} 22 --local-host-port=localhost:2222 --zone ${plan.members[0].zone} --project demo-project`);
        expect(out.iap!.meaning).to.match(/local end of an IAP TCP tunnel/);
        expect(JSON.stringify(out)).to.not.match(/privateKey|COREOS_CLUSTER_SSH_KEY/);
        expect(IAP_TUNNEL_ROLE).to.equal("roles/iap.tunnelResourceAccessor");
    });

    it("a bastion host is reachable as it is: no IAP note", () => {
        const config = gcpConfig();
        expect(tunnelOutput({ ...(tunnel as object), host: "bastion.example.com" } as never, config, planFor(config))).to.deep.equal({ host: "bastion.example.com", port: 2222, username: "core" });
    });

    it("the local platform's output is unchanged (the member's own address and its VPC)", () => {
        const config = localConfig();
        const out = tunnelOutput({ host: "10.213.10.10", port: 22, username: "root", localVpc: "10.213.10.0/24" } as never, config, planFor(config));
        expect(out).to.deep.equal({ host: "10.213.10.10", port: 22, username: "root", localVpc: "10.213.10.0/24" });
        expect(tunnelOutput(undefined, config, planFor(config))).to.equal(null);
    });
});

import { expect } from "chai";
import { afterAutohealingProbe, afterProbe, eligibleBackends, INITIAL_CHECK_STATE, shouldRecreate, CheckState } from "../../../components/local/balancer/health-state";
import { autohealingHealthCheck, GCE_AUTOHEALING_INITIAL_DELAY_SEC, loadBalancerHealthCheck, LOCAL_AUTOHEALING_INITIAL_DELAY_SEC, gceHealthCheckArgs } from "../../../model/health-checks";
import { gcpConfig, localConfig } from "../../cloud-config/fixtures";

const config = localConfig();
const lb = loadBalancerHealthCheck(config);
const heal = autohealingHealthCheck(config);

function run(plan: typeof lb, results: boolean[], from: CheckState = INITIAL_CHECK_STATE): CheckState[] {
    const states: CheckState[] = [];
    let state = from;
    for (const ok of results) states.push((state = afterProbe(state, plan, ok, ok ? "200" : "503")));
    return states;
}

describe("local load balancer: health verdicts as GCE gives them (pure)", () => {
    it("reads one plan for both platforms: the health endpoint from config, GCE's intervals and thresholds", () => {
        expect(lb).to.include({ port: config.healthCheck.port, path: config.healthCheck.path, checkIntervalSec: 5, healthyThreshold: 2, unhealthyThreshold: 2 });
        expect(gceHealthCheckArgs(lb)).to.deep.equal({ checkIntervalSec: 5, timeoutSec: 5, healthyThreshold: 2, unhealthyThreshold: 2, httpHealthCheck: { port: config.healthCheck.port, requestPath: config.healthCheck.path } });
        expect(heal).to.include({ checkIntervalSec: 10, unhealthyThreshold: 6, initialDelaySec: LOCAL_AUTOHEALING_INITIAL_DELAY_SEC });
        expect(autohealingHealthCheck(gcpConfig()).initialDelaySec).to.equal(GCE_AUTOHEALING_INITIAL_DELAY_SEC);
        expect(LOCAL_AUTOHEALING_INITIAL_DELAY_SEC).to.be.lessThan(GCE_AUTOHEALING_INITIAL_DELAY_SEC);
    });

    it("starts unhealthy and turns healthy only after healthyThreshold successes in a row", () => {
        expect(INITIAL_CHECK_STATE.healthy).to.equal(false);
        expect(run(lb, [true, false, true, true]).map((s) => s.healthy)).to.deep.equal([false, false, false, true]);
    });

    it("turns unhealthy only after unhealthyThreshold failures in a row, and says what the last probe saw", () => {
        const up = run(lb, [true, true]).pop()!;
        const states = run(lb, [false, true, false, false], up);
        expect(states.map((s) => s.healthy)).to.deep.equal([true, true, true, false]);
        expect(states[3].last).to.equal("503");
    });

    it("autohealing ignores failures within the initial delay and recreates after unhealthyThreshold failures past it", () => {
        const born = 0;
        let state = INITIAL_CHECK_STATE;
        const withinDelay = (heal.initialDelaySec - 1) * 1000;
        for (let i = 0; i < 10; i++) state = afterAutohealingProbe(state, heal, false, "refused", born, withinDelay);
        expect(state.consecutiveFailures).to.equal(0);
        expect(shouldRecreate(state, heal, born, withinDelay)).to.equal(false);
        const after = heal.initialDelaySec * 1000;
        for (let i = 0; i < heal.unhealthyThreshold - 1; i++) state = afterAutohealingProbe(state, heal, false, "refused", born, after);
        expect(shouldRecreate(state, heal, born, after)).to.equal(false);
        state = afterAutohealingProbe(state, heal, false, "refused", born, after);
        expect(shouldRecreate(state, heal, born, after)).to.equal(true);
        expect(shouldRecreate(afterAutohealingProbe(state, heal, true, "200", born, after), heal, born, after)).to.equal(false);
    });

    it("sends new connections to healthy backends only, and to all of them when none is healthy (GCE's last resort)", () => {
        const backends = [{ name: "w0" }, { name: "w1" }, { name: "w2" }];
        expect(eligibleBackends(backends, (n) => n === "w1").map((b) => b.name)).to.deep.equal(["w1"]);
        expect(eligibleBackends(backends, () => false).map((b) => b.name)).to.deep.equal(["w0", "w1", "w2"]);
    });
});

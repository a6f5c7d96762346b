import { expect } from "chai";
import { launchState } from "../../../components/local/vpc/spawn";
import { judgeProcess } from "../../../model/process-view";

// The CI failure this guards: `ip netns exec` caught mid-execve (empty cmdline) was taken for the
// command itself, so the next check, finding no `etcd` there, reported a healthy start as an exit.
describe("local VPC: when a process started through ip netns exec is the command", () => {
    const ip = "/usr/sbin/ip";

    it("is the launcher while ip still runs, under its path or another one", () => {
        expect(launchState(judgeProcess(`${ip}\0-n\0ns\0`, "S"), ip)).to.equal("launcher");
        expect(launchState(judgeProcess("/sbin/ip\0", "R"), ip)).to.equal("launcher");
    });

    it("is not yet the command while execve swaps the image (empty cmdline, process alive)", () => {
        expect(launchState(judgeProcess("", "R"), ip)).to.equal("exec-ing");
        expect(launchState(judgeProcess("", "D"), ip)).to.equal("exec-ing");
    });

    it("is gone for a missing pid or a zombie, whatever its cmdline", () => {
        expect(launchState(judgeProcess(undefined, undefined), ip)).to.equal("gone");
        expect(launchState(judgeProcess("", "Z"), ip)).to.equal("gone");
        expect(launchState(judgeProcess("etcd\0", "X"), ip)).to.equal("gone");
    });

    it("is the command once argv[0] names it (as given, or retitled like sshd's listener)", () => {
        expect(launchState(judgeProcess("etcd\0--name\0m0\0", "S"), ip)).to.equal("command");
        expect(launchState(judgeProcess("sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups", "S"), ip)).to.equal("command");
    });
});

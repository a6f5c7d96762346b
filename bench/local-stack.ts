import { Benchmark } from "./support";
export const localStack: Benchmark = { name: "local-stack", title: "local-stack", async run() { return { status: "skipped: not written yet", figures: [] }; } };

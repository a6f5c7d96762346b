// A client that calls back to back until stopped: what the tests that change a live router or
// cluster hold to "0 failed requests". Shared by test/router/bad-data.test.ts and the engine tests.

/** Calls `call` back to back until stopped; counts answers that are right and every other outcome, with what it was. */
export function keepCalling(call: () => Promise<boolean | string>): { stop(): Promise<{ ok: number; failures: string[] }> } {
    let running = true;
    let ok = 0;
    const failures: string[] = [];
    const loop = (async () => {
        while (running) {
            try {
                const result = await call();
                if (result === true) ok++;
                else failures.push(`${new Date().toISOString()} ${result}`);
            } catch (err) {
                failures.push(`${new Date().toISOString()} ${(err as Error).message}`);
            }
        }
    })();
    return {
        async stop() {
            running = false;
            await loop;
            return { ok, failures };
        },
    };
}

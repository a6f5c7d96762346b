/** The error a promise rejects with; fails the test when it resolves instead. */
export async function failureOf(p: Promise<unknown>): Promise<Error> {
    try {
        await p;
    } catch (e) {
        return e as Error;
    }
    throw new Error("expected a failure");
}

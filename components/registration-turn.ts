// The program registers resources with the engine asynchronously: a registration leaves only once
// the synchronous code running at the time returns to the event loop. index.ts builds most of its
// resources (loading the platform's modules, constructing every machine) in one synchronous stretch
// after the first two registrations; before this, those two waited for all of it, and the engine's
// check and diff of them (about 60-100 ms) ran only after. Now they leave first and the engine works
// on them while the program builds the rest.

/** `build()` one macrotask later (after every registration started so far has been sent), as a promise of its result. */
export function afterPendingRegistrations<T>(build: () => T): Promise<T> {
    return new Promise<void>((resolve) => setImmediate(resolve)).then(build);
}

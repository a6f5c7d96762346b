// Which environments are production. One rule for the config validation and the policy pack: a
// spelling (`production`, `prod-eu`, `eu-prd`, `live`) must not skip the rules that `prod` turns on.

const PRODUCTION_WORD = /(?:^|[-_])(?:prod|prd|production|live)(?:[-_0-9]|$)/i;

/** True when the production rules apply to an environment label. */
export function isProductionEnvironment(environment: string | undefined): boolean {
    return environment !== undefined && PRODUCTION_WORD.test(environment);
}

/**
 * Whether a stack is production: fail-safe, any of its names says so. A stack named prod whose
 * `environment` says `eu`, or an `environment: production` on a stack named main, both get the rules.
 */
export function isProductionStack(...names: Array<string | undefined>): boolean {
    return names.some((n) => isProductionEnvironment(n));
}

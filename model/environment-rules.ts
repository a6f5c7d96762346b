// Which environments are production. One rule for the config validation and the policy pack: a
// spelling (`production`, `prod-eu`, `eu-prd`, `live`) must not skip the rules that `prod` turns on.

const PRODUCTION_WORD = /(?:^|[-_])(?:prod|prd|production|live)(?:[-_0-9]|$)/i;

/** True when the production rules apply to an environment label. */
export function isProductionEnvironment(environment: string | undefined): boolean {
    return environment !== undefined && PRODUCTION_WORD.test(environment);
}

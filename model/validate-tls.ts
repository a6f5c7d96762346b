// The cluster PKI's settings (tls*): whole numbers that hold together (model/pki-plan.ts
// validityProblem is the one rule), named by their key when they do not.
import { ClusterConfig } from "./types";
import { ConfigReader, Problems } from "./config-reader";
import { validityProblem } from "./pki-plan";

export function readTlsSettings(r: ConfigReader, problems: Problems): ClusterConfig["tls"] {
    const whole = (key: string, fallback: number): number => {
        const value = r.integer(key);
        if (value === undefined) return fallback;
        if (value < 1) problems.add(key, `${value} must be a whole number from 1`);
        return value;
    };
    const tls = {
        caGeneration: whole("tlsCaGeneration", 1),
        leafGeneration: whole("tlsLeafGeneration", 1),
        trustPreviousCa: r.boolean("tlsTrustPreviousCa") ?? false,
        leafValidityDays: whole("tlsLeafValidityDays", 365),
        renewBeforeDays: whole("tlsRenewBeforeDays", 30),
        caValidityDays: whole("tlsCaValidityDays", 3650),
    };
    if (tls.leafValidityDays >= 1 && tls.renewBeforeDays >= 1 && tls.caValidityDays >= 1) {
        const problem = validityProblem(tls);
        if (problem) problems.add(/caValidityDays/.test(problem.split(" must")[0]) ? "tlsCaValidityDays" : "tlsRenewBeforeDays", problem.replace(/\b(renewBeforeDays|leafValidityDays|caValidityDays)\b/g, (m) => `tls${m[0].toUpperCase()}${m.slice(1)}`));
    }
    return tls;
}

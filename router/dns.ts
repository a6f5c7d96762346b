// `<service>.local` -> this worker's address, so services reach each other through the local
// router (the seed's dnsmasq rule "everything .local is the host"). A few lines of UDP DNS in the
// watcher instead of dnsmasq: it answers from the same service list the router routes, needs no
// extra image on GCE, and runs as the same code on both platforms.
import * as dgram from "dgram";

const TYPE_A = 1;
const CLASS_IN = 1;
const RCODE_NXDOMAIN = 3;
const RCODE_REFUSED = 5;

interface Question {
    name: string;
    type: number;
    klass: number;
    end: number;
}

function readQuestion(msg: Buffer): Question | undefined {
    if (msg.length < 12 || msg.readUInt16BE(4) !== 1) return undefined;
    const labels: string[] = [];
    let i = 12;
    while (i < msg.length) {
        const len = msg[i];
        if (len === 0) break;
        if (len > 63 || i + 1 + len > msg.length) return undefined;
        labels.push(msg.subarray(i + 1, i + 1 + len).toString("ascii").toLowerCase());
        i += 1 + len;
    }
    if (i + 5 > msg.length) return undefined;
    return { name: labels.join("."), type: msg.readUInt16BE(i + 1), klass: msg.readUInt16BE(i + 3), end: i + 5 };
}

/** The answer to one query (pure): A for a known `<service>.local`, NXDOMAIN for other `.local` names, REFUSED otherwise. */
export function dnsAnswer(query: Buffer, isService: (name: string) => boolean, address: string): Buffer | undefined {
    const q = readQuestion(query);
    if (!q) return undefined;
    const labels = q.name.split(".");
    const local = labels.length === 2 && labels[1] === "local";
    const known = local && isService(labels[0]);
    const rcode = known ? 0 : local || q.name.endsWith(".local") ? RCODE_NXDOMAIN : RCODE_REFUSED;
    const withA = known && q.type === TYPE_A && q.klass === CLASS_IN;
    const header = Buffer.alloc(12);
    header.writeUInt16BE(query.readUInt16BE(0), 0);
    // QR, opcode copied, AA; RD copied; RA off (no recursion here).
    header.writeUInt16BE(0x8000 | (query.readUInt16BE(2) & 0x7900) | 0x0400 | rcode, 2);
    header.writeUInt16BE(1, 4);
    header.writeUInt16BE(withA ? 1 : 0, 6);
    const question = query.subarray(12, q.end);
    if (!withA) return Buffer.concat([header, question]);
    const answer = Buffer.alloc(16);
    answer.writeUInt16BE(0xc00c, 0); // name: pointer to the question
    answer.writeUInt16BE(TYPE_A, 2);
    answer.writeUInt16BE(CLASS_IN, 4);
    answer.writeUInt32BE(5, 6); // short TTL: a service can go away
    answer.writeUInt16BE(4, 10);
    address.split(".").forEach((octet, k) => answer.writeUInt8(Number(octet), 12 + k));
    return Buffer.concat([header, question, answer]);
}

export function serveDns(bind: string, port: number, isService: (name: string) => boolean, log: (line: string) => void): dgram.Socket {
    const socket = dgram.createSocket({ type: "udp4", reuseAddr: true });
    socket.on("message", (msg, peer) => {
        const reply = dnsAnswer(msg, isService, bind);
        if (reply) socket.send(reply, peer.port, peer.address);
    });
    socket.on("error", (err) => log(`dns on ${bind}:${port}: ${err.message}`));
    socket.bind(port, bind, () => log(`dns: <service>.local -> ${bind} on ${bind}:${port}/udp`));
    return socket;
}

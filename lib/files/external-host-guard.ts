import dns from 'node:dns';
import net from 'node:net';

/**
 * Which addresses the worker may connect to for a district's own SFTP server. The worker runs
 * inside our network: without this, a sync config could point it at the cloud metadata service,
 * at our own databases, or use its different failure messages to probe our ports.
 */

interface Range {
  /** What the address is, with its ranges, as the API's refusals name it. */
  label: string;
  /** The same without any address (`loopback`), for messages a district reads about a host name. */
  kind: string;
  list: net.BlockList;
}

/** Well-known NAT64 prefix: on a NAT64 network 64:ff9b::a9fe:a9fe reaches 169.254.169.254. */
const NAT64_PREFIX = '64:ff9b::';

function range(label: string, subnets: string[]): Range {
  const list = new net.BlockList();
  for (const subnet of subnets) {
    const [address, bits] = subnet.split('/');
    if (net.isIPv4(address)) {
      list.addSubnet(address, Number(bits), 'ipv4');
      const [a, b, c, d] = address.split('.').map(Number);
      const embedded = `${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
      list.addSubnet(`${NAT64_PREFIX}${embedded}`, 96 + Number(bits), 'ipv6');
    } else {
      list.addSubnet(address, Number(bits), 'ipv6');
    }
  }
  return { label, kind: label.split(' (')[0], list };
}

// BlockList also matches IPv4-mapped IPv6 addresses (::ffff:127.0.0.1) against the IPv4 subnets.
const NEVER: Range[] = [
  range('cloud metadata (fd00:ec2::254)', ['fd00:ec2::254/128']),
  range('link-local (169.254.0.0/16, fe80::/10), where cloud metadata services answer', [
    '169.254.0.0/16',
    'fe80::/10',
  ]),
  range('unspecified (0.0.0.0/8, ::)', ['0.0.0.0/8', '::/128']),
  range('multicast (224.0.0.0/4, ff00::/8)', ['224.0.0.0/4', 'ff00::/8']),
  range('reserved or broadcast (240.0.0.0/4)', ['240.0.0.0/4']),
];
const PRIVATE: Range[] = [
  range('loopback (127.0.0.0/8, ::1)', ['127.0.0.0/8', '::1/128']),
  range('private (10.0.0.0/8, 172.16.0.0/12, 192.168.0.0/16, fc00::/7)', [
    '10.0.0.0/8',
    '172.16.0.0/12',
    '192.168.0.0/16',
    'fc00::/7',
  ]),
  range('shared carrier-grade NAT (100.64.0.0/10)', ['100.64.0.0/10']),
];

/** Why an address is refused; `privateRange` ones are allowed with EXTERNAL_SFTP_ALLOW_PRIVATE. */
export interface Refusal {
  address: string;
  label: string;
  kind: string;
  privateRange: boolean;
}

/** Undefined when the worker may connect to `address`. */
export function refusal(address: string, allowPrivate: boolean): Refusal | undefined {
  const family = net.isIPv6(address) ? 'ipv6' : 'ipv4';
  const never = NEVER.find((r) => r.list.check(address, family));
  if (never) return { address, label: never.label, kind: never.kind, privateRange: false };
  const inPrivate = allowPrivate ? undefined : PRIVATE.find((r) => r.list.check(address, family));
  return inPrivate && { address, label: inPrivate.label, kind: inPrivate.kind, privateRange: true };
}

/**
 * Resolves a host name (an address stays as is) to the addresses the worker may connect to;
 * when there are none, why the first one is refused. Of a name with both kinds only the allowed
 * addresses are used.
 */
export async function checkHost(
  host: string,
  allowPrivate: boolean,
): Promise<{ addresses: dns.LookupAddress[] } | { refused: Refusal }> {
  const all = await dns.promises.lookup(host, { all: true });
  const addresses = all.filter((a) => !refusal(a.address, allowPrivate));
  if (addresses.length > 0) return { addresses };
  return { refused: refusal(all[0].address, allowPrivate) as Refusal };
}

/**
 * A `lookup` for net.connect that answers with addresses already checked, so the socket goes
 * exactly where the check said: no second DNS answer (DNS rebinding) is ever asked for.
 */
export const pinnedLookup =
  (addresses: dns.LookupAddress[]): net.LookupFunction =>
  (_hostname, options, callback) =>
    options.all ? callback(null, addresses) : callback(null, addresses[0].address, addresses[0].family);

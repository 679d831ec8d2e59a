import { readdirSync, readFileSync } from 'node:fs';

/**
 * CPU time (ms) used so far by every java process: DynamoDB Local's share of
 * the work. It runs on the same cores as the targets, so a request shape that
 * costs it more CPU lowers every target's throughput on this machine (and
 * costs nothing of the app's on AWS, where capacity units are what is billed).
 */
export function dynamoDbLocalCpuMs(): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (!stat.includes('(java)')) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) * 10; // utime + stime, in ticks of 10 ms
    } catch {
      // the process ended meanwhile
    }
  }
  return total;
}

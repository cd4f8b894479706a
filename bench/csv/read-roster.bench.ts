import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CsvChunkParser } from '../../lib/csv/csv-chunk-parser';
import { readRoster } from '../../lib/csv/read-roster';

/**
 * Throughput and memory of readRoster alone: writes a roster of ROWS rows (default 1,000,000) in
 * the default template to a temp file, streams it through the reader, prints rows/s and the peak
 * RSS. Also times csv-parse alone on the same file, so the reader's own cost is visible, and reports
 * rows per CPU-second next to wall-clock rows/s (a shared machine's load skews the wall clock).
 * Run: npx tsc -p tsconfig.json && node dist/bench/csv/read-roster.bench.js [rows]
 */
const ROWS = Number(process.argv[2] ?? 1_000_000);
const SCHOOLS = Array.from({ length: 40 }, (_, i) => `School Number ${i + 1}`);
const ROLES = ['Teacher', 'Student', 'Student', 'Student', 'Coach', 'Staff', 'School Admin', 'Parent'];

async function writeFile(file: string): Promise<void> {
  const out = fs.createWriteStream(file);
  const write = (s: string): Promise<void> | void => {
    if (!out.write(s)) return new Promise((resolve) => out.once('drain', resolve));
  };
  await write(
    'First Name,Last Name,Email,Internal ID,School,Role,Coach Email,Accounting ID,Clever ID,Platform ID,Phone,Grade\r\n',
  );
  let chunk = '';
  for (let i = 0; i < ROWS; i++) {
    const id = String(i).padStart(8, '0');
    // Every 1,000th row carries an error, every 500th a warning: the bench includes reporting.
    const school = i % 1000 === 7 ? 'School Numbr 3' : SCHOOLS[i % SCHOOLS.length];
    const coach = i % 500 === 3 ? 'not-an-email' : `coach${i % 97}@district.org`;
    chunk += `Firstname${i},"Lastname, ${i}",user${id}@District.org,${id},${school},${ROLES[i % ROLES.length]},${coach},A${id},c${id},,555-010-${String(i % 10000).padStart(4, '0')},${i % 12}\r\n`;
    if (chunk.length > 1 << 16) {
      await write(chunk);
      chunk = '';
    }
  }
  await write(chunk);
  await new Promise<void>((resolve, reject) =>
    out.end((err?: Error | null) => (err ? reject(err) : resolve())),
  );
}

/** csv-parse alone, driven the same way the reader drives it: the floor under readRoster's cost. */
async function parseOnly(file: string): Promise<{ rowsPerSecond: number; rowsPerCpuSecond: number }> {
  let rows = 0;
  const parser = new CsvChunkParser(() => rows++);
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  for await (const chunk of fs.createReadStream(file)) parser.push(chunk as Buffer);
  parser.end();
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const used = process.cpuUsage(cpu);
  return {
    rowsPerSecond: Math.round(rows / seconds),
    rowsPerCpuSecond: Math.round(rows / ((used.user + used.system) / 1e6)),
  };
}

async function main(): Promise<void> {
  const file = path.join(os.tmpdir(), `roster-bench-${process.pid}.csv`);
  await writeFile(file);
  const size = fs.statSync(file).size;
  const baseline = await parseOnly(file);
  let peakRss = process.memoryUsage().rss;
  const cpu = process.cpuUsage();
  const started = process.hrtime.bigint();
  let records = 0;
  let findings = 0;
  let batches = 0;
  try {
    const gen = readRoster(fs.createReadStream(file), {
      fileName: 'bench.csv',
      matchingKey: 'internal_id',
      schools: SCHOOLS,
    });
    let next = await gen.next();
    while (!next.done) {
      records += next.value.records.length;
      findings += next.value.findings.length;
      if (++batches % 256 === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
      next = await gen.next();
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const used = process.cpuUsage(cpu);
    const cpuSeconds = (used.user + used.system) / 1e6;
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    const summary = next.value;
    if (summary.fatal) throw new Error(summary.fatal.message);
    console.log(
      JSON.stringify({
        rows: summary.rowsTotal,
        fileMB: +(size / 1e6).toFixed(1),
        seconds: +seconds.toFixed(2),
        rowsPerSecond: Math.round(summary.rowsTotal / seconds),
        rowsPerCpuSecond: Math.round(summary.rowsTotal / cpuSeconds),
        csvParseAlone: baseline,
        mbPerSecond: +(size / 1e6 / seconds).toFixed(1),
        valid: records,
        findings,
        batches,
        peakRssMB: Math.round(peakRss / 1e6),
      }),
    );
  } finally {
    fs.rmSync(file, { force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

import { Readable } from 'node:stream';
import { readRoster } from '../../lib/csv/read-roster';

/**
 * Time through readRoster of hostile inputs that must cost time linear in their size: a header
 * cell holding a long run of quotes between two letters (the shape that made the quote-trimming
 * regex backtrack quadratically) and a 1 MB file that is one single line of such a cell.
 * Run: npx tsc -p tsconfig.json && node dist/bench/csv/hostile-input.bench.js [quotes] [lineBytes]
 */
const QUOTES = Number(process.argv[2] ?? 60_000);
const LINE_BYTES = Number(process.argv[3] ?? 1_000_000);
const TEMPLATE = 'First Name,Last Name,Email,Role,School';

async function timeRead(name: string, chunks: Buffer[]): Promise<void> {
  const started = process.hrtime.bigint();
  const gen = readRoster(Readable.from(chunks), {
    fileName: `${name}.csv`,
    matchingKey: 'email',
    schools: ['Oak'],
  });
  let next = await gen.next();
  while (!next.done) next = await gen.next();
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  const fatal = next.value.fatal;
  console.log(
    JSON.stringify({
      case: name,
      ms: Math.round(ms),
      fatal: fatal?.code ?? null,
      message: fatal?.message.slice(0, 120),
    }),
  );
}

async function main(): Promise<void> {
  await timeRead(`header-cell-${QUOTES}-quotes`, [
    Buffer.from(`${TEMPLATE},x${"'".repeat(QUOTES)}x\nAnn,Lee,ann@district.org,Teacher,Oak,v\n`),
  ]);
  // One line, no line break: a file that is nothing but one runaway header cell.
  const line = Buffer.from(`x${"'".repeat(LINE_BYTES - 2)}x`);
  await timeRead(`single-line-${LINE_BYTES}-bytes`, [line]);
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
